"""The GPU path, end to end: a short `colab`-sized FitLaM job in bf16 and in fp16 mixed precision.

What a Colab user runs with `fitlam run --preset colab --pretrained wt103`, made short: the paper-sized AWD-LSTM
(400/1152/3) starts from a stand-in for fastai's WT103 weights (random weights in fastai's file layout, with the
embedded GloVe word list as its vocabulary, built as `tests/test_online_run.py` builds it: no network), then stage 2
(LM fine-tuning, discriminative rates + STLR) and stage 3 (the BPT3C classifier, gradual unfreezing), forward and
backward, on the embedded IMDb sample. Each run is done twice:

* `bf16` — what fitlam picks on a GPU with native bf16 (A100, H100, L4): autocast to bf16, no loss scaling; the LSTMs
  run in bf16 where cuDNN has a bf16 LSTM, else fall back to float32 (`fitlam.mixed_precision.cuda_lstm`);
* `fp16` — what a T4 (Colab's free GPU) gets: autocast to float16 with a GradScaler. Forced here on any GPU by
  replacing `fitlam.learner.amp_dtype`, the one function that makes that choice.

For every stage of every run it records tokens/second (the training tokens the model read, padding included, over
the stage's wall time, validation included: a conservative rate), the peak GPU memory, the AMP path taken, and the scores; it writes them to
`--out` as JSON and prints a markdown table. The accuracies mean nothing (the stand-in's weights are random); the
point is that every path runs, stays finite, and how fast.

    python benchmarks/gpu_check.py                        # both dtypes, writes benchmarks/results/gpu_check.json
    python benchmarks/gpu_check.py --amp fp16 --n-labels 200 --n-unlabelled 200
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import fitlam.learner as learner
from fitlam.awd_lstm import AWDLSTM
from fitlam.mixed_precision import bf16_lstm_works
from fitlam.wt103 import fastai_key_map
from fitlam.core import device_name, load_preset
from fitlam.learner import Callback

AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}
SPECIALS = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep"]


def wt103_standin(cache: Path) -> int:
    """fastai's extracted wt103-fwd/ and wt103-bwd/ folders in `cache` (lstm_<dir>.pth with fastai's key names,
    itos_wt103.pkl), random 400/1152/3 weights; the vocabulary is the embedded GloVe word list. Returns its size."""
    words = (Path(__file__).resolve().parent.parent / "data" / "glove_100d" / "words.txt").read_text().split("\n")
    itos = SPECIALS + [w for w in words if w and w not in SPECIALS]
    for direction in ("fwd", "bwd"):
        torch.manual_seed(0)
        encoder = AWDLSTM(len(itos), 400, 1152, 3)
        params = dict(encoder.named_parameters())
        state = {key: params[name].detach().clone() for key, name in fastai_key_map(3).items()}
        folder = cache / f"wt103-{direction}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(state, folder / f"lstm_{direction}.pth")
        with open(folder / "itos_wt103.pkl", "wb") as f: pickle.dump(itos, f)   # we write it; fitlam never unpickles
    return len(itos)


class StageMeter(Callback):
    "Per Learner (one per stage and direction): wall time, tokens read, peak GPU memory, and the AMP path it took."
    order = 100

    def __init__(self): self.rows, self.by_learner = [], {}

    def before_fit(self, learn):
        if id(learn) not in self.by_learner:   # gradual unfreezing fits one Learner several times: one row for all
            if torch.cuda.is_available(): torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
            row = {"stage": "lm" if hasattr(learn.model, "decoder") else "classifier", "tokens": 0, "steps": 0,
                   "start": time.perf_counter()}
            self.by_learner[id(learn)] = row; self.rows.append(row)

    def after_batch(self, learn):
        row = self.by_learner[id(learn)]
        row["tokens"] += learn.xb.numel(); row["steps"] += 1

    def after_fit(self, learn):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        row = self.by_learner[id(learn)]
        row["seconds"] = time.perf_counter() - row["start"]
        row["tokens_per_s"] = row["tokens"] / row["seconds"]
        row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
        row["autocast"] = str(learn.amp_dtype).replace("torch.", "")
        row["grad_scaler"] = learn.scaler.is_enabled()
        if learn.scaler.is_enabled(): row["loss_scale"] = float(learn.scaler.get_scale())
        # under bf16, whether the LSTMs ran in it (the check has run by now; this reads its remembered answer)
        row["lstm_in_bf16"] = bf16_lstm_works(next(learn.model.parameters()).device) if learn.amp_dtype == torch.bfloat16 else None
        row["last_loss"] = float(learn.raw_loss)


def run_once(amp: str, args) -> dict:
    from fitlam.pipeline import run_fitlam
    dtype = AMP[amp]
    learner.amp_dtype = lambda device: dtype if device.type == "cuda" else None   # the one place fitlam chooses
    p = load_preset("colab", dataset="imdb_sample", n_unlabelled=args.n_unlabelled, n_labels=args.n_labels,
                    n_valid=args.n_valid, lm_epochs=1, device=args.device, **args.sizes)
    meter = StageMeter()
    start = time.perf_counter()
    result = run_fitlam(p, pretrained="wt103", progress=False, cbs=[meter])
    wall = time.perf_counter() - start
    metrics = result["metrics"]
    for row, (direction, stage) in zip(meter.rows, [(d, s) for d in ("fwd", "bwd") for s in ("lm", "classifier")]):
        assert row["stage"] == stage, (row, stage)
        row["direction"] = direction
        row.pop("start")
    return {"amp": amp, "wall_s": wall, "stages": meter.rows,
            "accuracy": {k: metrics[k]["test"]["accuracy"] for k in ("fwd", "bwd", "ensemble")},
            "lm_perplexity": {d: metrics[d]["finetune_lm"]["valid_perplexity"] for d in ("fwd", "bwd")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amp", nargs="+", default=["bf16", "fp16"], choices=list(AMP))
    parser.add_argument("--n-unlabelled", type=int, default=1000)
    parser.add_argument("--n-labels", type=int, default=500)
    parser.add_argument("--n-valid", type=int, default=250)
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of this script (no mixed precision there)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_check.json"))
    args = parser.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available(): sys.exit("gpu_check needs a CUDA GPU; torch sees none")
    # a dry run on a CPU: tiny batches (the model's sizes are fixed by the weights)
    args.sizes = {} if args.device != "cpu" else dict(bs=4, bptt=8, clf_bs=8, max_len=40, clf_epochs=1)
    with tempfile.TemporaryDirectory() as home:
        os.environ["FITLAM_HOME"] = home
        vocab = wt103_standin(Path(home))
        summary = {"device": device_name(args.device), "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
                   "python": platform.python_version(), "standin_vocab": vocab,
                   "command": "python benchmarks/gpu_check.py" + ("" if not (argv or sys.argv[1:]) else " " + " ".join(argv or sys.argv[1:])),
                   "runs": []}
        for amp in args.amp:
            run = run_once(amp, args)
            summary["runs"].append(run)
            print(json.dumps(run), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"\n{summary['device']}, cuDNN {summary['cudnn']}; colab preset (400/1152/3, stand-in WT103 with "
          f"{vocab:,} words), {args.n_unlabelled} unlabelled + {args.n_labels} labelled reviews, 1 LM epoch\n")
    print("| autocast | direction | stage | steps | tokens/s | peak GPU memory | AMP path | last loss |")
    print("|---|---|---|---|---|---|---|---|")
    for run in summary["runs"]:
        for r in run["stages"]:
            path = {"bfloat16": "bf16, LSTM in bf16" if r["lstm_in_bf16"] else "bf16, LSTM fell back to float32",
                    "float16": f"fp16 + GradScaler (final scale {r.get('loss_scale', 0):g})"}.get(r["autocast"], "off (float32)")
            print(f"| {run['amp']} | {r['direction']} | {r['stage']} | {r['steps']} | {r['tokens_per_s']:,.0f} | "
                  f"{r['peak_gib']:.2f} GiB | {path} | {r['last_loss']:.3f} |")
    for run in summary["runs"]:
        print(f"{run['amp']}: {run['wall_s']:.0f}s wall; test accuracy {run['accuracy']} (random stand-in weights)")


if __name__ == "__main__":
    main()
