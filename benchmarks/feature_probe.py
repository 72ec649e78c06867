"""Where does the sentiment live in our language models, and does stage 2 put more of it there?

FitLaM's classifier starts from the language model's features. If a linear probe on them is weak, fine-tuning starts
from little. This measures, on the embedded IMDb sample (the label curve's 2,000-review pool and 2,500 test reviews):

* for each LM layer (0 = the embedding, 1 .. n_layers = the LSTMs' outputs), the mean-pooled and max-pooled outputs
  over the review's last 400 tokens, and both together;
* probed with standardised features + logistic regression (C by 3-fold cross-validation) at 100 and 1,000 labels
  (the label curve's stratified draw 0);
* for the shipped general-English LM (stage 1 only) and for stage 2 run on *all* the sample's unlabelled reviews plus
  the pool's texts, after each of `--epochs` epochs (one STLR cycle over all of them, as `lm_epochs` would give).

    python benchmarks/feature_probe.py --epochs 4          # stage 2 (~20 min per epoch on 2 CPU cores), then probes
    python benchmarks/feature_probe.py --probe-only        # probe what is already in --work

Writes `feature_probe.json` ({"rows": {"<lm> <labels> L<k>_<pool>": accuracy}, "stage2": per-epoch perplexity and
seconds, "command", "seconds"}) into `--out`. Resumable: each epoch's LM and each LM's probes are kept in `--work`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from fitlam.ablations import draw_labels  # noqa: E402  (the stratified draws the label curve uses)

from fitlam.awd_lstm import PAD_IDX  # noqa: E402
from fitlam.core import cache_dir, load_preset  # noqa: E402
from fitlam.data import load_dataset  # noqa: E402
from fitlam.finetune_lm import finetune_lm, starting_lm  # noqa: E402
from fitlam.learner import Callback  # noqa: E402
from fitlam.loaders import Labels, pad_left, sorted_batches  # noqa: E402
from fitlam.classifier import text_ids  # noqa: E402
from fitlam.pretrain import load_lm, save_lm, shipped_lm_dir  # noqa: E402
from fitlam.saved import holds_model  # noqa: E402


@torch.no_grad()
def layer_features(lm, vocab, texts, keep: int = 400) -> dict[str, np.ndarray]:
    "Mean-, max- and mean+max-pooled outputs of every layer (0 = embedding) over each text's last `keep` tokens."
    encoder = lm.encoder.eval()
    docs = [doc[-keep:] for doc in text_ids(texts, vocab)]
    out = {}
    for batch in sorted_batches(np.array([len(doc) for doc in docs]), 64):
        ids = pad_left([docs[i] for i in batch], PAD_IDX)
        pad = (ids == PAD_IDX)[..., None]
        encoder.reset()
        raw_outputs, _ = encoder(ids)
        for k, h in enumerate([encoder.embedding(ids)] + list(raw_outputs)):
            h = h.float()
            mean = h.masked_fill(pad, 0).sum(1) / (~pad).sum(1)
            top = h.masked_fill(pad, float("-inf")).max(1).values
            for name, f in ((f"L{k}_mean", mean), (f"L{k}_max", top), (f"L{k}_meanmax", torch.cat([mean, top], 1))):
                out.setdefault(name, np.zeros((len(docs), f.shape[1]), np.float32))[batch] = f.numpy()
    return out


def probe(train_x, train_y, test_x, test_y, seed: int) -> float:
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegressionCV(Cs=[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1], cv=3, max_iter=3000, random_state=seed)
    return float(model.fit(scaler.transform(train_x), train_y).score(scaler.transform(test_x), test_y))


class SaveEachEpoch(Callback):
    "Save the LM being fine-tuned after every epoch (full precision), with the vocabulary stage 2 built."
    def __init__(self, folder: Path, config: dict): self.folder, self.config, self.vocab = folder, config, None
    def after_epoch(self, learn):
        save_lm(self.folder / f"epoch_{learn.epoch}", learn.model, self.vocab, self.config, half=False)
        row = learn.history[-1]
        print(f"stage 2 epoch {learn.epoch}: perplexity {row['perplexity']:.2f} ({row['time']:.0f}s)", flush=True)


def stage2_epochs(p, texts, valid_texts, epochs: int, folder: Path) -> dict:
    "Stage 2 (forward) for `epochs` epochs, one LM folder per epoch in `folder`; skipped when the last one exists."
    if holds_model(folder / f"epoch_{epochs}", "language_model"):
        return json.loads((folder / "metrics.json").read_text())
    lm, vocab, config = starting_lm(p)
    saver = SaveEachEpoch(folder, config)
    import fitlam.finetune_lm as stage2   # the vocabulary stage 2 builds is the one each saved epoch needs
    build = stage2.Vocab.build
    def keep_vocab(*args, **kwargs):
        saver.vocab = build(*args, **kwargs)
        return saver.vocab
    stage2.Vocab.build = keep_vocab
    try: tuned = finetune_lm(lm, vocab, config, texts, valid_texts, p, epochs=epochs, progress=False, cbs=[saver])
    finally: stage2.Vocab.build = build
    metrics = {**tuned["metrics"], "history": tuned["learner"].history}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="stage-2 epochs over all the unlabelled reviews")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--labels", default="100,1000")
    parser.add_argument("--probe-only", action="store_true", help="probe the LMs already in --work; train nothing")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--work", default=str(cache_dir() / "feature_probe"))
    args = parser.parse_args(argv)
    start = time.time()
    p = load_preset("demo", n_unlabelled=0)
    data = load_dataset(p.dataset)
    pool, test = data["train"].iloc[:args.pool], data["test"]
    work = Path(args.work)
    stage2 = None
    if not args.probe_only:
        texts = list(data["unlabelled"].text) + list(pool.text)
        stage2 = stage2_epochs(p, texts, list(data["valid"].text), args.epochs, work / "stage2")
    lms = {"shipped": shipped_lm_dir("fwd")}
    lms.update({f"stage2_epoch_{e}": work / "stage2" / f"epoch_{e}" for e in range(1, args.epochs + 1)
                if holds_model(work / "stage2" / f"epoch_{e}", "language_model")})
    labels = Labels(pool.label)
    test_y = labels.encode(test.label)
    rows = {}
    for name, folder in lms.items():
        cached = work / "probes" / f"{name}.json"
        if cached.is_file(): rows.update(json.loads(cached.read_text())); continue
        lm, vocab, _ = load_lm(folder)
        train_f, test_f = layer_features(lm, vocab, pool.text), layer_features(lm, vocab, test.text)
        found = {}
        for n in (int(x) for x in args.labels.split(",")):
            drawn = draw_labels(pool, n, seed=0)
            at = [pool.index.get_loc(i) for i in drawn.index]
            for feature in train_f:
                found[f"{name} {n} {feature}"] = probe(train_f[feature][at], labels.encode(drawn.label),
                                                       test_f[feature], test_y, p.seed)
                print(f"{name} {n} labels {feature}: {found[f'{name} {n} {feature}']:.4f}", flush=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(found, indent=1))
        rows.update(found)
    if stage2 is None and (work / "stage2" / "metrics.json").is_file():
        stage2 = json.loads((work / "stage2" / "metrics.json").read_text())
    summary = {"rows": rows, "test_reviews": len(test), "pool": args.pool,
               "stage2": None if stage2 is None else {k: stage2[k] for k in ("train_tokens", "valid_perplexity_before",
                                                                               "epochs", "wall_s", "history")},
               "command": "python benchmarks/feature_probe.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "seconds_this_call": round(time.time() - start)}
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    (out / "feature_probe.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
