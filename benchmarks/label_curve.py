"""Does transfer win on a laptop? Test accuracy against the number of labels, FitLaM against what starts from nothing.

On the embedded IMDb sample, for 100, 300 and 1,000 labels (several random draws of the labelled reviews each),
all scored on the same 2,500 untouched test reviews:

* `tfidf` — TF-IDF word 1-2-grams + logistic regression (the baseline `fitlam run` reports);
* `glove_mean` — first-layer transfer: the mean GloVe 100-d vector of the review's words, standardised, + logistic
  regression with C chosen by 3-fold cross-validation;
* `scratch` — the same AWD-LSTM classifier trained from random weights (no pretraining, no LM fine-tuning), all
  layers at once, with the same step budget;
* `fitlam_fwd` — FitLaM: the shipped general-English LM, fine-tuned on the task's text (stage 2, once, on the
  unlabelled reviews plus the texts — never the labels or the test reviews — of the labelled pool), then the
  classifier with gradual unfreezing, discriminative rates, STLR and the step budget;
* `fitlam_ensemble` — the forward and backward classifiers' probabilities averaged;
* `probe_fwd` — logistic regression on the frozen stage-2 encoder's concat-pooled features: what fine-tuning
  starts from (it should never end below it).

    python benchmarks/label_curve.py                          # demo preset, 3 draws, writes benchmarks/results/
    python benchmarks/label_curve.py --draws 1 --labels 100,1000 --set n_unlabelled=2000
    python benchmarks/label_curve.py --set n_hid=320 --lms /tmp/w320_fwd /tmp/w320_bwd   # a candidate stage-1 pair

Writes `label_curve.json` ({"labels", "rows": {name: mean per label count}, "spread": {name: std}, "draws": every
number, "seeds", "command", "seconds" (stage 2 + every cell), ...}) and `label_curve.png`. The work is resumable:
stage-2 LMs and each finished (labels, draw) cell are kept in `--work`, so a rerun computes only what is missing, and
two processes can share it (e.g. `--stage2-only fwd` beside `--stage2-only bwd`, then `--labels 100,300` beside
`--labels 1000`, then the full command to write the summary). Seeded: the same command gives the same numbers
on the same machine and thread count.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fitlam.ablations import draw_labels
from fitlam.classifier import (Classifier, load_encoder_from_lm, masked_concat_pool, text_classifier, text_ids,
                               train_classifier)
from fitlam.cli import parse_sets
from fitlam.core import cache_dir, load_preset, seed_everything
from fitlam.data import load_dataset
from fitlam.files import sha256_file
from fitlam.finetune_lm import finetune_lm, starting_lm
from fitlam.pretrain import load_lm, save_lm, shipped_lm_dir
from fitlam.loaders import ClassifierLoader, Labels, pad_left, sorted_batches
from fitlam.pipeline import glove_mean_baseline, tfidf_baseline
from fitlam.saved import MANIFEST_NAME, holds_model

ROWS = ("tfidf", "glove_mean", "scratch", "fitlam_fwd", "fitlam_ensemble", "probe_fwd")


@torch.no_grad()
def concat_pool_features(model, docs, bs: int = 64) -> np.ndarray:
    "The head's input for every document: [last, max, mean] of the encoder's kept outputs, in eval mode."
    model.eval()
    features = None
    for batch in sorted_batches(np.array([len(doc) for doc in docs]), bs):
        _, output, pad_mask = model.bpt3c(pad_left([docs[i] for i in batch], model.bpt3c.pad_idx))
        pooled = masked_concat_pool(output, pad_mask).float().numpy()
        if features is None: features = np.zeros((len(docs), pooled.shape[1]), dtype=np.float32)
        features[batch] = pooled
    return features


def probe_accuracy(train_x, train_y, test_x, test_y, seed: int) -> float:
    "Standardised features + L2 logistic regression (strong regularisation: the label sets are small)."
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(C=0.01, max_iter=5000, random_state=seed).fit(scaler.transform(train_x), train_y)
    return float(model.score(scaler.transform(test_x), test_y))


def fine_tuned_lm(p, tag: str, pool, unlabelled, valid, folder: Path, start=None) -> dict:
    """Stage 2 in one direction, once: the stage-1 LM (`start`, default the shipped one) -> the unlabelled reviews + the
    pool's texts (no labels). Cached in `folder`."""
    if holds_model(folder, "language_model") and (folder / "metrics.json").is_file():
        model, vocab, _ = load_lm(folder)
        return {"model": model, "vocab": vocab, "metrics": json.loads((folder / "metrics.json").read_text())}
    lm, vocab, config = starting_lm(p, backwards=tag == "bwd", folder=start)
    texts = list(unlabelled.text) + list(pool.text)
    tuned = finetune_lm(lm, vocab, config, texts, list(valid.text), p, progress=False)
    m = tuned["metrics"]
    print(f"stage 2 {tag}: {m['train_tokens']:,} tokens, perplexity {m['valid_perplexity_before']:.1f} -> "
          f"{m['valid_perplexity']:.1f} ({m['wall_s']:.0f}s)", flush=True)
    save_lm(folder, tuned["model"], tuned["vocab"], tuned["config"], half=False)   # full precision: every process reads the same
    (folder / "metrics.json").write_text(json.dumps(m, indent=1))
    return {"model": tuned["model"], "vocab": tuned["vocab"], "metrics": m}


def stage1_dirs(lms) -> dict[str, Path]:
    "The stage-1 LM of each direction: the folders given (forward, then backward) or the shipped ones in models/."
    given = [Path(d) for d in lms or ()]
    return {tag: given[i] if i < len(given) else shipped_lm_dir(tag) for i, tag in enumerate(("fwd", "bwd"))}


def work_key(p, pool: int, starts: dict) -> str:
    "A short name for these settings, this pool size and the stage-1 LMs' bytes: the work folder to resume from."
    lms = [starts[tag] / MANIFEST_NAME for tag in ("fwd", "bwd")]   # (it holds the checksum of every file)
    # the stage-1 LMs' bytes are in the key (the shipped ones unless --lms names others); the preset's `pretrained` is not
    settings = {k: v for k, v in p.items() if k != "pretrained"}
    stamp = json.dumps({"preset": settings, "pool": pool, "lms": [sha256_file(f) if f.is_file() else None for f in lms]},
                       sort_keys=True, default=str)
    return f"{p.preset}-{hashlib.sha256(stamp.encode()).hexdigest()[:10]}"


def train_one(p, vocab, labels, train, valid_dl, lm=None, backwards=False) -> Classifier:
    "A classifier on `train`: from the fine-tuned `lm` with the preset's recipe, or from scratch (all layers at once)."
    dl = ClassifierLoader(text_ids(train.text, vocab), labels.encode(train.label), p.clf_bs, shuffle=True,
                          seed=p.seed, backwards=backwards)
    seed_everything(p.seed)
    model = text_classifier(len(vocab), len(labels), p, backwards=backwards)
    if lm is not None: load_encoder_from_lm(model, lm)
    # no per-epoch validation: nothing here reads it, and a stretched plan would validate every one of its epochs
    train_classifier(model, dl, None, p, progress=False, gradual_unfreezing=None if lm is not None else False)
    return Classifier(model, vocab, labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--labels", default="100,300,1000", help="label counts, comma-separated")
    parser.add_argument("--draws", type=int, default=3, help="random draws of the labelled reviews per label count")
    parser.add_argument("--pool", type=int, default=0, help="labelled reviews to draw from (0: the whole train split)")
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                        help="preset overrides; repeat it or give several (--set a=1 b=2 --set c=3)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the json and png")
    parser.add_argument("--work", default=str(cache_dir() / "label_curve"),
                        help="folder for the resumable work: stage-2 LMs and one json per finished (labels, draw) cell")
    parser.add_argument("--summary-only", action="store_true",
                        help="compute nothing: summarise the cells already in --work (draws may differ per label count)")
    parser.add_argument("--lms", nargs="+", metavar="DIR",
                        help="stage-1 LMs to start from instead of the shipped ones: the forward folder, then the backward "
                             "(e.g. a candidate pair from benchmarks/stage1_gpu.sh, before it replaces models/)")
    parser.add_argument("--stage2-only", choices=["fwd", "bwd"],
                        help="only fine-tune this direction's LM into --work and stop (run fwd and bwd side by side)")
    args = parser.parse_args(argv)
    if args.lms and len(args.lms) > 2: parser.error("--lms takes two folders at most: the forward LM, then the backward")
    counts = sorted(int(n) for n in args.labels.split(","))
    overrides = parse_sets(args.set)   # the same --set KEY=VALUE as the fitlam command; the preset checks them
    p = load_preset(args.preset, **overrides)
    data = load_dataset(p.dataset)
    pool, valid, test = data["train"].iloc[:args.pool or None], data["valid"].iloc[:p.n_valid or None], data["test"]
    unlabelled = data["unlabelled"].iloc[:p.n_unlabelled] if p.n_unlabelled else data["unlabelled"]
    labels = Labels(pool.label)
    test_y = labels.encode(test.label)
    start = time.time()

    starts = stage1_dirs(args.lms)
    work = Path(args.work) / work_key(p, args.pool, starts)   # any change of settings, pool or stage-1 LMs: a fresh folder
    tags = ["fwd", "bwd"] if p.bidirectional else ["fwd"]
    if args.stage2_only:
        fine_tuned_lm(p, args.stage2_only, pool, unlabelled, valid, work / f"stage2_{args.stage2_only}",
                      starts[args.stage2_only])
        return
    lms = {tag: fine_tuned_lm(p, tag, pool, unlabelled, valid, work / f"stage2_{tag}", starts[tag]) for tag in tags}
    vocab = lms["fwd"]["vocab"]
    probe = None
    position = {index: i for i, index in enumerate(pool.index)}
    valid_dls = {tag: ClassifierLoader(text_ids(valid.text, tuned["vocab"]), labels.encode(valid.label), p.clf_bs,
                                       shuffle=False, backwards=tag == "bwd") for tag, tuned in lms.items()}

    results = {name: {n: [] for n in counts} for name in ROWS}
    for n in counts:
        for draw in range(args.draws):
            cell = work / "cells" / f"{n}_labels_draw_{draw}.json"
            if cell.is_file():   # a finished cell of the grid is never recomputed
                score = json.loads(cell.read_text())
            elif args.summary_only:
                continue
            else:
                if probe is None:
                    probe_model = text_classifier(len(vocab), len(labels), p)
                    load_encoder_from_lm(probe_model, lms["fwd"]["model"])
                    probe = {"pool": concat_pool_features(probe_model, text_ids(pool.text, vocab)),
                             "test": concat_pool_features(probe_model, text_ids(test.text, vocab))}
                t0 = time.time()
                train = draw_labels(pool, n, seed=draw)
                rows_at = [position[i] for i in train.index]
                y = labels.encode(train.label)
                score = {"tfidf": tfidf_baseline(train.text, train.label, test.text, test.label, p.seed)["accuracy"],
                         "glove_mean": glove_mean_baseline(train.text, train.label, test.text, test.label, p.seed)["accuracy"],
                         "probe_fwd": probe_accuracy(probe["pool"][rows_at], y, probe["test"], test_y, p.seed)}
                scratch = train_one(p, vocab, labels, train, valid_dls["fwd"])
                score["scratch"] = float(np.mean(scratch.probs(test.text, cache=True).argmax(1) == test_y))
                probs = {tag: train_one(p, tuned["vocab"], labels, train, valid_dls[tag], tuned["model"],
                                        backwards=tag == "bwd").probs(test.text, cache=True) for tag, tuned in lms.items()}
                score["fitlam_fwd"] = float(np.mean(probs["fwd"].argmax(1) == test_y))
                score["fitlam_ensemble"] = float(np.mean(np.mean(list(probs.values()), 0).argmax(1) == test_y))
                score["seconds"] = round(time.time() - t0)
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.write_text(json.dumps(score))
            for name in ROWS: results[name][n].append(score[name])
            print(f"{n} labels, draw {draw}: " + ", ".join(f"{k} {v:.4f}" for k, v in score.items() if k in ROWS)
                  + f" ({score['seconds']}s)", flush=True)

    seconds = round(time.time() - start)
    summary = {
        "labels": counts,
        "rows": {name: [round(float(np.mean(results[name][n])), 4) for n in counts] for name in ROWS},
        "spread": {name: [round(float(np.std(results[name][n])), 4) for n in counts] for name in ROWS},
        "draws": {name: [results[name][n] for n in counts] for name in ROWS},
        "seeds": min(len(results["tfidf"][n]) for n in counts),
        "draws_per_label_count": [len(results["tfidf"][n]) for n in counts], "test_reviews": len(test), "preset": p.preset, "overrides": overrides,
        "stage1": {tag: str(starts[tag]) for tag in tags},
        "stage2": {tag: {k: tuned["metrics"].get(k) for k in ("train_tokens", "valid_perplexity_before", "valid_perplexity",
                                                              "wall_s", "device", "words_from_vectors", "words_mean_row")}
                   for tag, tuned in lms.items()},
        "seconds": round(sum(t["metrics"]["wall_s"] for t in lms.values())
                         + sum(json.loads(cell.read_text())["seconds"] for cell in (work / "cells").glob("*.json")
                               if int(cell.name.split("_")[0]) in counts)),   # stage 2 + every cell, however split
        "command": "python benchmarks/label_curve.py" + ("" if argv is None and len(sys.argv) == 1 else " " + " ".join(argv if argv is not None else sys.argv[1:])),
        "seconds_this_call": seconds, "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.python_version()}",
    }
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    (out / "label_curve.json").write_text(json.dumps(summary, indent=1) + "\n")
    table = pd.DataFrame(summary["rows"], index=pd.Index(counts, name="labels")).T
    print(f"\ntest accuracy on {len(test):,} reviews, draws per label count {summary['draws_per_label_count']} "
          f"(preset {p.preset}, {summary['seconds']}s of compute):")
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    print("\nas markdown (mean ± std over the draws):\n")
    print("| row | " + " | ".join(f"{n:,} labels" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for name in ROWS:
        print(f"| `{name}` | " + " | ".join(f"{m:.4f} ± {sd:.4f}" for m, sd in zip(summary["rows"][name], summary["spread"][name])) + " |")
    plot(summary, out / "label_curve.png")


def plot(summary: dict, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name in ROWS:
        ax.errorbar(summary["labels"], summary["rows"][name], yerr=summary["spread"][name], marker="o", capsize=3,
                    label=name, linestyle="--" if name in ("probe_fwd", "glove_mean") else "-")
    ax.set_xscale("log"); ax.set_xticks(summary["labels"]); ax.set_xticklabels(summary["labels"])
    ax.set_xlabel("labelled reviews"); ax.set_ylabel("test accuracy (2,500 reviews)")
    draws = "/".join(str(d) for d in summary["draws_per_label_count"])
    ax.set_title(f"IMDb sample: transfer vs. starting from nothing (draws {draws}, ± std)", fontsize=10)
    ax.legend(fontsize=8); ax.grid(alpha=0.3)
    fig.tight_layout(); fig.savefig(path, dpi=110); plt.close(fig)


if __name__ == "__main__":
    main()
