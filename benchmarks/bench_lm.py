"""How much do the AWD-LSTM regularisers cost? Training and evaluation speed of fitlam's language model against
its ceiling: the very same network with no regularisation at all.

Both models: embedding -> stacked one-layer LSTMs (the last one emb_sz wide) -> linear decoder tied to the
embedding, hidden state carried (detached) between batches, cross-entropy over the whole vocabulary, Adam step.
  * fitlam: `fitlam.awd_lstm.awd_lstm_lm` with all five dropouts at the preset's values (embedding, input,
    DropConnect on the recurrent matrices, hidden, output).
  * ceiling: plain `nn.LSTM` modules, nothing dropped.
So the only difference is the regularisers. The two are timed side by side in one run: many short samples (a step,
or a block of steps on a GPU), interleaved A B, B A, ..., and the median sample of each — so that the ratio holds on
a shared machine, where other processes' bursts stall one sample now and then.

Sizes come from settings.ini: `demo` (128/256/2, vocab = max_vocab 12,000, bs 32, bptt 40) and `colab`
(400/1152/3, vocab 60,000, bs 64, bptt 70; on a CPU it runs only a few steps, each takes seconds).
With CUDA it also runs on the GPU with mixed precision (bf16 where supported, else fp16 + GradScaler).

    python benchmarks/bench_lm.py                      # demo + colab; CPU, and CUDA if present
    python benchmarks/bench_lm.py --sizes demo --devices cpu --samples 10
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from fitlam.awd_lstm import PAD_IDX, awd_lstm_lm, count_parameters
from fitlam.mixed_precision import bf16_lstm_works
from fitlam.core import load_preset
from fitlam.learner import amp_dtype as learner_amp_dtype

# (warm-up steps, steps per timed sample, samples per model) for each device kind and size
SCHEDULE = {("cpu", "demo"): (3, 1, 30), ("cpu", "colab"): (1, 1, 8),
            ("cuda", "demo"): (10, 10, 15), ("cuda", "colab"): (5, 10, 10)}


class PlainLSTMLM(nn.Module):
    "The ceiling: our sizes, embedding, tied decoder and hidden-state handling, with plain nn.LSTMs and no dropout."
    def __init__(self, vocab_size: int, emb_sz: int, n_hid: int, n_layers: int, pad_idx: int = PAD_IDX):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_sz, padding_idx=pad_idx)
        with torch.no_grad(): self.embedding.weight.uniform_(-0.1, 0.1)
        sizes = [emb_sz] + [n_hid] * (n_layers - 1) + [emb_sz]
        self.rnns = nn.ModuleList(nn.LSTM(a, b, batch_first=True) for a, b in zip(sizes[:-1], sizes[1:]))
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.hidden = None

    def forward(self, ids):
        if self.hidden is None or self.hidden[0][0].size(1) != ids.size(0): self.hidden = [None] * len(self.rnns)
        x, new_hidden = self.embedding(ids), []
        for rnn, hidden in zip(self.rnns, self.hidden):
            x, (h, c) = rnn(x, hidden)
            new_hidden.append((h.detach(), c.detach()))
        self.hidden = new_hidden
        return (F.linear(x, self.embedding.weight, self.bias),)

    def reset(self): self.hidden = None


def amp_dtype(device: torch.device):
    "bf16 where the GPU and its cuDNN LSTM support it, else fp16 (+ GradScaler); None (full precision) on a CPU."
    if device.type != "cuda": return None
    native_bf16 = learner_amp_dtype(device) == torch.bfloat16   # fitlam's choice: bf16 only where the GPU has it natively
    return torch.bfloat16 if native_bf16 and bf16_lstm_works(torch.device("cuda", torch.cuda.current_device())) else torch.float16


def autocast(device: torch.device, dtype):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def sync(device: torch.device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def make_steps(model: nn.Module, device: torch.device, dtype):
    "The training step (forward, loss, backward, Adam) and the evaluation step (forward, loss) for `model`."
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.7, 0.99))
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None

    def loss_of(x, y):
        with autocast(device, dtype):
            logits = model(x)[0]
            return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))

    def train_step(x, y):
        loss = loss_of(x, y)
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward(); opt.step()
        else:
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update()

    @torch.no_grad()
    def eval_step(x, y): loss_of(x, y)

    return train_step, eval_step


def time_steps(step, batches, n_steps: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    for i in range(n_steps): step(*batches[i % len(batches)])
    sync(device)
    return time.perf_counter() - start


def bench_size(size: str, device: torch.device, samples: int | None, seed: int = 0) -> list[dict]:
    "Tokens/second of ours and of the ceiling, training and evaluation, at the preset `size` on `device`."
    p = load_preset(size)
    vocab, bs, bptt = p.max_vocab, p.bs, p.bptt
    warmup, n_steps, default_samples = SCHEDULE[(device.type, size)]
    samples = samples or default_samples
    dtype = amp_dtype(device)
    torch.manual_seed(seed)
    models = {"fitlam": awd_lstm_lm(vocab, p).to(device),
              "ceiling": PlainLSTMLM(vocab, p.emb_sz, p.n_hid, p.n_layers).to(device)}
    assert count_parameters(models["fitlam"]) == count_parameters(models["ceiling"])  # same network
    g = torch.Generator().manual_seed(seed)
    streams = [torch.randint(0, vocab, (bs, bptt + 1), generator=g) for _ in range(4)]
    batches = [(s[:, :-1].to(device), s[:, 1:].to(device)) for s in streams]
    steps = {name: dict(zip(("train", "eval"), make_steps(m, device, dtype))) for name, m in models.items()}
    rows = []
    for phase in ("train", "eval"):
        for model in models.values():
            model.train(phase == "train"); model.reset()
        for name in models: time_steps(steps[name][phase], batches, warmup, device)
        seconds = {name: [] for name in models}
        for r in range(samples):
            order = list(models) if r % 2 == 0 else list(models)[::-1]  # A B, B A, ...: drift hits both alike
            for name in order: seconds[name].append(time_steps(steps[name][phase], batches, n_steps, device))
        tokens = bs * bptt * n_steps
        speed = {name: tokens / statistics.median(s) for name, s in seconds.items()}
        best = {name: tokens / min(s) for name, s in seconds.items()}
        rows.append(dict(size=size, device=device.type, phase=phase, fitlam=speed["fitlam"], ceiling=speed["ceiling"],
                         ratio=speed["fitlam"] / speed["ceiling"], best_ratio=best["fitlam"] / best["ceiling"],
                         steps=f"{warmup} warm-up, {samples} x {n_steps} step{'s' if n_steps > 1 else ''}"))
    return rows


def describe(size: str) -> str:
    p = load_preset(size)
    dropouts = ", ".join(f"{k}={p[k] * p.drop_mult:g}" for k in ("output_p", "hidden_p", "input_p", "embed_p", "weight_p"))
    return (f"{size}: emb {p.emb_sz}, hid {p.n_hid}, {p.n_layers} layers, vocab {p.max_vocab:,}, bs {p.bs}, "
            f"bptt {p.bptt}; fitlam's dropouts (x drop_mult {p.drop_mult}): {dropouts}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["demo", "colab"], choices=["demo", "colab"])
    parser.add_argument("--devices", nargs="+", default=None, choices=["cpu", "cuda"],
                        help="default: cpu, plus cuda when available")
    parser.add_argument("--samples", type=int, default=None, help="timed samples per model (the median is reported)")
    args = parser.parse_args(argv)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if "cuda" in devices and not torch.cuda.is_available():
        print("CUDA not available: skipping the GPU runs"); devices = [d for d in devices if d != "cuda"]

    print(f"torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}; "
          f"CPU threads: {torch.get_num_threads()} (torch's default)")
    if "cuda" in devices:
        dtype = amp_dtype(torch.device("cuda"))
        print(f"GPU: {torch.cuda.get_device_name()}, mixed precision {str(dtype).replace('torch.', '')}"
              f"{' + GradScaler' if dtype == torch.float16 else ''}, cuDNN {torch.backends.cudnn.version()}")
    for size in args.sizes: print(describe(size))
    print("tokens/second from the median of interleaved samples; ratio = fitlam / ceiling (no regularisation);\n"
          "best = the same ratio from each model's fastest sample (other processes can only slow a sample down)\n")
    header = (f"{'size':<6} {'device':<6} {'phase':<6} {'fitlam tok/s':>13} {'ceiling tok/s':>14} {'ratio':>6} "
              f"{'best':>5}  timing")
    print(header); print("-" * len(header))
    for device in devices:
        for size in args.sizes:
            for row in bench_size(size, torch.device(device), args.samples):
                print(f"{row['size']:<6} {row['device']:<6} {row['phase']:<6} {row['fitlam']:>13,.0f} "
                      f"{row['ceiling']:>14,.0f} {row['ratio']:>6.2f} {row['best_ratio']:>5.2f}  {row['steps']}", flush=True)


if __name__ == "__main__":
    main()
