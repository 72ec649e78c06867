"""BPT3C bounds the classifier's training memory by `max_len`, not by the length of the document.

What is measured: how far one real training step — `Learner.one_batch`: forward through BPT3C and the head, loss
with AR/TAR, backward, clipping, Adam step — pushes the process's peak resident memory, for one document of
2,000 and one of 20,000 tokens, each in a fresh Python process.

Why this way:
* torch's CPU allocations are invisible to `tracemalloc`, and torch has no CPU twin of
  `torch.cuda.max_memory_allocated`. The kernel's high-water mark of resident memory (`ru_maxrss`) sees every
  byte whoever allocated it, and is portable (Linux reports KiB, macOS bytes; we only compare ratios).
* A fresh process per measurement, because the high-water mark never comes down: an earlier big step would hide
  a later smaller one. (The two sizes run side by side; each process has its own mark.)
* Growth, not the absolute peak: the interpreter, torch and the model take a few hundred MB before any document
  is read. The mark is read after two warm-up steps on a short document (they also create Adam's state), and we
  compare how far the measured step pushes it beyond that.
* The model is small but not tiny (emb 32, hidden 128, bptt 70, max_len 1,000), so the tensors kept for the
  backward pass (~17 MB) dwarf the allocator's noise (~1 MB).

`test_memory_without_truncation_grows` is the control: the same measurement with `max_len=None` (every chunk's
outputs kept, with gradients) grows about tenfold with the tenfold longer document, so the 1.2x bound can fail.
"""
import json
import os
import subprocess
import sys

SHORT, LONG, BOUND = 2_000, 20_000, 1.2

STEP_SCRIPT = r"""
import json, resource, sys
import torch
from fitlam.classifier import build_classifier
from fitlam.learner import ActivationRegularization, Learner

n_tokens, max_len = int(sys.argv[1]), (None if sys.argv[2] == "None" else int(sys.argv[2]))
torch.manual_seed(0)
config = dict(vocab_size=1000, n_classes=2, emb_sz=32, n_hid=128, n_layers=2, hidden_p=0.15, input_p=0.2,
              embed_p=0.025, weight_p=0.25, head_ps=[0.2, 0.1], clf_hidden=50, bptt=70, max_len=max_len,
              pad_idx=1, backwards=False)
learn = Learner(build_classifier(config), train_dl=[], cbs=[ActivationRegularization(2.0, 1.0)], lr=1e-3,
                device="cpu", mixed_precision=False, progress=False)
learn.model.train()

def step(n):
    learn.one_batch(torch.randint(2, 1000, (1, n)), torch.tensor([1]))

def peak_mib():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10

step(200); step(200)   # warm-up: allocator pools, Adam state
before = peak_mib()
step(n_tokens)
print(json.dumps({"before_mib": before, "growth_mib": peak_mib() - before}))
"""


def peak_growth_mib(*runs: tuple[int, object]) -> list[float]:
    "For each (n_tokens, max_len): MiB by which one training step raises a fresh process's peak memory (run side by side)."
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", STEP_SCRIPT, str(n), str(max_len)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n, max_len in runs]
    growths = []
    for (n_tokens, max_len), proc in zip(runs, procs):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"the measuring process failed:\n{err[-3000:]}"
        result = json.loads(out.strip().splitlines()[-1])
        print(f"{n_tokens:>6} tokens, max_len={max_len}: peak grew {result['growth_mib']:.1f} MiB "
              f"(from {result['before_mib']:.0f} MiB)")
        growths.append(result["growth_mib"])
    return growths


def test_bpt3c_memory_is_bounded_by_max_len():
    short, long = peak_growth_mib((SHORT, 1000), (LONG, 1000))
    assert long <= BOUND * short, (f"BPT3C: a {LONG:,}-token document raised peak memory by {long:.1f} MiB, a "
                                   f"{SHORT:,}-token one by {short:.1f} MiB: more than {BOUND}x")


def test_memory_without_truncation_grows():
    short, long = peak_growth_mib((SHORT, None), (LONG, None))
    assert long > BOUND * short, (f"without truncation, {LONG:,} tokens took {long:.1f} MiB and {SHORT:,} "
                                  f"took {short:.1f} MiB: the measurement can't tell them apart")
