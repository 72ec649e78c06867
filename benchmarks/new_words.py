"""How should stage 2 start the words the pretrained LM has never seen? fastai's mean row against GloVe mapped in.

Stage 2 moves the shipped general-English LM to the task's vocabulary. Words it knows keep their rows; for the
others (on IMDb: "spielberg", "cgi", "mesmerizing", ...) we compare two starting rows, side by side in one run, from
the same LM, on the same text, with the same seed:

* `mean`  — the mean embedding row (fastai's rule; `word_vectors=none`);
* `glove` — the word's GloVe vector through an affine least-squares map fit on the words both know
  (`word_vectors=glove_100d`); words GloVe lacks still get the mean row.

For each: IMDb validation perplexity before stage 2 (the LM reading reviews cold) and after it, and the same
perplexity restricted to the positions whose next word is one of the new words.

    python benchmarks/new_words.py                    # demo preset; writes benchmarks/results/new_words.json
    python benchmarks/new_words.py --set n_unlabelled=500
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from fitlam.cli import parse_sets
from fitlam.core import evaluating, load_preset
from fitlam.data import load_task_data
from fitlam.finetune_lm import finetune_lm, starting_lm, target_corpus
from fitlam.learner import Callback
from fitlam.fast_tokenize import tokenize_corpus
from fitlam.tokenize import Vocab


class MeasureBefore(Callback):
    "Measure the remapped LM just before its first optimiser step, on the loaders stage 2 trains with."
    order = -100
    def __init__(self, new_ids: set[int]): self.new_ids, self.result = new_ids, {}
    def before_fit(self, learn): self.result = perplexities(learn, self.new_ids)


@torch.no_grad()
def perplexities(learn, new_ids: set[int]) -> dict:
    "Validation perplexity over all positions and over those whose next word is in `new_ids`."
    model, total, count, new_total, new_count = learn.model, 0.0, 0, 0.0, 0
    with evaluating(model):
        model.reset()
        for xb, yb in learn.valid_dl:
            logits = model(xb)[0]
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), yb.reshape(-1), reduction="none")
            mask = torch.tensor([int(t) in new_ids for t in yb.reshape(-1)])
            total, count = total + losses.sum().item(), count + losses.numel()
            new_total, new_count = new_total + losses[mask].sum().item(), new_count + int(mask.sum())
    return {"all": math.exp(total / count), "new_words": math.exp(new_total / max(new_count, 1)),
            "new_word_positions": new_count}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                        help="preset overrides; repeat it or give several (--set a=1 b=2 --set c=3)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "new_words.json"))
    args = parser.parse_args(argv)
    overrides = parse_sets(args.set)   # the same --set KEY=VALUE as the fitlam command; the preset checks them
    rows, start = {}, time.time()
    for rule, vectors in (("mean", "none"), ("glove", "glove_100d")):
        p = load_preset(args.preset, **{**overrides, "word_vectors": vectors})
        lm, vocab, config = starting_lm(p)
        train_texts, valid_texts = target_corpus(load_task_data(p))
        known = set(vocab.itos)
        new_vocab = Vocab.build(tokenize_corpus(train_texts), p.max_vocab, p.min_freq)
        new_ids = {i for i, w in enumerate(new_vocab.itos) if w not in known}
        before = MeasureBefore(new_ids)
        tuned = finetune_lm(lm, vocab, config, train_texts, valid_texts, p, progress=False, cbs=[before])
        after = perplexities(tuned["learner"], new_ids)
        m = tuned["metrics"]
        rows[rule] = {"before": before.result, "after": after, "words_from_vectors": m["words_from_vectors"],
                      "words_mean_row": m["words_mean_row"], "words_from_pretraining": m["words_from_pretraining"],
                      "train_tokens": m["train_tokens"], "wall_s": m["wall_s"]}
        print(rule, json.dumps(rows[rule]), flush=True)
    result = {"rows": rows, "preset": args.preset, "overrides": overrides, "seconds": round(time.time() - start),
              "command": "python benchmarks/new_words.py" + ("".join(" " + a for a in (argv if argv is not None else sys.argv[1:])))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nIMDb validation perplexity, stage 2 from the shipped LM (preset {args.preset}):")
    for rule, r in rows.items():
        print(f"  {rule:5s}: before {r['before']['all']:.1f} (new words {r['before']['new_words']:.0f}) -> after "
              f"{r['after']['all']:.1f} (new words {r['after']['new_words']:.0f}); "
              f"{r['words_from_vectors']} words from GloVe, {r['words_mean_row']} from the mean row")


if __name__ == "__main__":
    main()
