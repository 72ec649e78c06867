"""A course kit that teaches and really runs FitLaM/ULMFiT: pretrain an AWD-LSTM LM, fine-tune it, fine-tune a classifier.

Modules:

- `fitlam.tokenize`: From raw review text to the token ids a language model reads: fastai's text rules and special tokens, a word splitter that gives the same tokens as spaCy's English tokenizer, the case markers, and the `Vocab` that numbers the tokens. (How the splitter matches spaCy: appendix 29; the fast, parallel, cached tokenizer every later notebook uses: appendix 30.)"""

__version__ = "0.1.0"
