"""Does `fitlam pretrain --corpus` keep memory bounded? Peak resident memory (RSS) of preparing a ~50 MB text file
for stage 1, side by side with tokenising the same text in memory (what notebook 07 does for the small embedded
corpus), each in a fresh process; plus the tokenisation speed, and the RSS of an LM epoch read from the memory map.

The text: the embedded general-English corpus's paragraphs, repeated in seeded shuffled orders until ~50 MB.
Peak RSS is the largest process's (`ru_maxrss` of the children: the main process or one tokeniser worker).

    python benchmarks/bench_corpus.py              # ~50 MB, 2 workers
    python benchmarks/bench_corpus.py --mb 5       # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the largest of this process and the tokeniser workers it started (ru_maxrss is in KiB on Linux)
PEAK = """
import resource
print(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024)
"""
PREPARE = """
import sys, time
from fitlam.corpus import prepare_corpus
t = time.time(); c = prepare_corpus(sys.argv[1], sys.argv[2], max_vocab=60000, min_freq=2, n_workers=int(sys.argv[3]), progress=False)
print(len(c.tokens), c.manifest["tokens_per_s"], round(time.time() - t, 1))
""" + PEAK
IN_MEMORY = """
import sys, time
from fitlam.fast_tokenize import tokenize_texts
from fitlam.tokenize import Vocab
from fitlam.corpus import corpus_docs
t = time.time()
docs = tokenize_texts(list(corpus_docs([__import__('pathlib').Path(sys.argv[1])])), n_workers=int(sys.argv[3]))
vocab = Vocab.build(docs, 60000, 2); ids = [vocab.numericalize(d) for d in docs]
n = sum(map(len, docs)); print(n, round(n / (time.time() - t)), round(time.time() - t, 1))
""" + PEAK
EPOCH = """
import sys, time
from fitlam.corpus import TokenCorpus, CorpusLMLoader
c = TokenCorpus(sys.argv[2]); t = time.time()
dl = CorpusLMLoader(c, range(len(c)), bs=64, bptt=70)
n = sum(x.numel() for x, _ in dl); print(n, round(n / (time.time() - t)), round(time.time() - t, 1))
""" + PEAK


def peak_rss_mb(script: str, *args: str) -> tuple[list[str], float]:
    "Run `script` in a fresh Python: its printed fields, and its peak RSS in MiB (its own or its largest worker's)."
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    *fields, peak = done.stdout.split()
    return fields, float(peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/bench_corpus.json")
    args = parser.parse_args()
    from fitlam.core import load_preset
    from fitlam.data import load_pretrain_corpus
    paragraphs = [t.replace("\n\n", "\n") for t in load_pretrain_corpus(load_preset("demo"))["train"]]
    with tempfile.TemporaryDirectory() as d:
        text_file, rng, size = Path(d) / "corpus.txt", np.random.default_rng(0), 0
        with open(text_file, "w") as f:
            while size < args.mb * 1e6:
                for i in rng.permutation(len(paragraphs)):
                    f.write(paragraphs[i] + "\n\n"); size += len(paragraphs[i]) + 2
                    if size >= args.mb * 1e6: break
        mb = text_file.stat().st_size / 1e6
        # each in a fresh process, the in-memory one first so the streaming one can't benefit from its page cache
        (n_mem, rate_mem, s_mem), rss_mem = peak_rss_mb(IN_MEMORY, str(text_file), "-", str(args.workers))
        (n_tok, rate_tok, s_tok), rss_tok = peak_rss_mb(PREPARE, str(text_file), str(Path(d) / "prepared"), str(args.workers))
        (n_epoch, rate_epoch, s_epoch), rss_epoch = peak_rss_mb(EPOCH, "-", str(Path(d) / "prepared"))
    result = {"text_mb": round(mb, 1), "tokens": int(n_tok), "workers": args.workers,
              "prepare": {"peak_rss_mb": round(rss_tok), "tokens_per_s": int(rate_tok), "seconds": float(s_tok)},
              "in_memory": {"peak_rss_mb": round(rss_mem), "tokens_per_s": int(rate_mem), "seconds": float(s_mem)},
              "lm_epoch_from_disk": {"peak_rss_mb": round(rss_epoch), "tokens_per_s": int(rate_epoch), "seconds": float(s_epoch)},
              "rss_ratio_in_memory_over_prepare": round(rss_mem / rss_tok, 2), "same_token_count": int(n_mem) == int(n_tok),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "command": "python benchmarks/bench_corpus.py " + " ".join(sys.argv[1:])}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
