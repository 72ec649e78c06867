"""What a wider AWD-LSTM would cost the `demo` on a CPU: seconds per training step (forward, backward, SGD update) of
the demo's language model (32 × 40 tokens, 8,000 words) and classifier (32 reviews × 300 tokens), at several LSTM widths,
measured in one run, interleaved, as ratios to the demo's 256 hidden units. Random weights and tokens: only time matters.

    python benchmarks/bench_width.py                  # widths 256, 320, 384, 512; 2 threads
    python benchmarks/bench_width.py --widths 256,384 --rounds 5
"""
import argparse
import time

import torch

from fitlam.awd_lstm import awd_lstm_lm
from fitlam.classifier import text_classifier
from fitlam.core import load_preset


def step_fn(model, x, y, vocab_size=None):
    "One training step of `model` on (x, y): a language model when `vocab_size` is given, else a classifier."
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    def step():
        model.reset()
        logits = model(x)[0]
        if vocab_size: logits = logits.reshape(-1, vocab_size)
        torch.nn.functional.cross_entropy(logits, y.reshape(-1)).backward()
        opt.step(); opt.zero_grad()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="256,320,384,512")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each times every model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads); torch.manual_seed(0)
    widths, vocab = [int(w) for w in args.widths.split(",")], 8000
    lm_x, lm_y = torch.randint(0, vocab, (32, 40)), torch.randint(0, vocab, (32, 40))
    clf_x, clf_y = torch.randint(10, vocab, (32, 300)), torch.randint(0, 2, (32,))
    steps = {}
    for w in widths:
        p = load_preset("demo", n_hid=w)
        steps[("LM", w)] = (step_fn(awd_lstm_lm(vocab, p).train(), lm_x, lm_y, vocab), 10)
        steps[("classifier", w)] = (step_fn(text_classifier(vocab, 2, p).train(), clf_x, clf_y), 4)
    for step, _ in steps.values(): step(); step()   # warm-up
    best = {key: float("inf") for key in steps}
    for _ in range(args.rounds):
        for key, (step, n) in steps.items():
            t = time.perf_counter()
            for _ in range(n): step()
            best[key] = min(best[key], (time.perf_counter() - t) / n)
    print(f"{'model':<12}{'n_hid':>6}{'ms/step':>10}{'x demo':>8}   ({args.threads} threads, best of {args.rounds} rounds)")
    for kind in ("LM", "classifier"):
        for w in widths:
            ms = 1000 * best[(kind, w)]
            print(f"{kind:<12}{w:>6}{ms:>10.0f}{best[(kind, w)] / best[(kind, widths[0])]:>8.2f}")


if __name__ == "__main__":
    main()
