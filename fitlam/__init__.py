"""A course kit that teaches and really runs FitLaM/ULMFiT: pretrain an AWD-LSTM LM, fine-tune it, fine-tune a classifier.

Modules:

- `fitlam.tokenize`: From raw review text to the token ids a language model reads: fastai's text rules and special tokens, a word splitter that gives the same tokens as spaCy's English tokenizer, the case markers, and the `Vocab` that numbers the tokens. (How the splitter matches spaCy: appendix 29; the fast, parallel, cached tokenizer every later notebook uses: appendix 30.)
- `fitlam.user_data`: `load_user_data` reads your CSV, TSV, Parquet file or folder of `<label>/*.txt` files into the `text`/`label` table every stage uses: it decodes bytes you did not check, names the problem and the fix when a file can't be used, and counts every row it skips. `split_user_data` cuts one labelled file into train/valid/test; `split_texts` holds out some of a text-only file for stage 2.
- `fitlam.widgets`: Four explorers for learners: every layer group's learning rate as you move the schedule's controls (and a real run's record over its design), a live perplexity dashboard that compares runs on one chart, a next-word explorer for a language model, and the classifier's attention explorer (its numbers from notebook 11). All the computation is in plain, tested functions; the widgets are thin."""

__version__ = "0.1.0"
