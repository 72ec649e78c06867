"""Tokenizer benchmark: fitlam's tokenizer against spaCy's English tokenizer (what fastai wraps), side by side.

    pip install -e ".[bench]"                    # spaCy is a benchmark-only dependency
    python benchmarks/bench_tokenize.py          # 5,000 IMDb reviews for speed; all 18,500 for the diff rate
    python benchmarks/bench_tokenize.py --n 2000 --diff-n 2000 --repeat 2

Part 1 — speed. Every row tokenizes the same reviews from data/imdb_sample/unlabelled.csv.gz, starting cold
(empty caches, a fresh spaCy pipeline, fresh worker processes), and reports tokens per second, where "tokens" is
always the same number (the words spaCy finds in the cleaned texts), so the ratios are ratios of wall time:

  * fitlam `tokenize_texts`: the whole pipeline (pre-rules, split, case markers), 1 process and all cores;
  * fitlam `split_words`: the word splitter alone, on texts already cleaned by the pre-rules;
  * spaCy `nlp.pipe(batch_size=1000)` on the same cleaned texts — the splitter alone — and with `n_process=cores`;
  * "fastai-style": the same pre-rules + spaCy + the same post-rules, as fastai runs them, 1 process and all cores
    (a process pool over batches of texts, like fastai's `parallel_gen`).

Part 2 — agreement. On the cleaned texts (after the pre-rules, before the case markers), the share of texts whose
split differs from spaCy's, the share of spaCy's tokens that differ (aligned with difflib), and examples. Also
checks that the fast `tokenize` equals `tokenize_reference` on every text.

Timings on a shared machine move with its load: run it twice and compare.
"""
import argparse
import collections
import concurrent.futures
import difflib
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import fitlam.fast_tokenize as fast  # noqa: E402
import fitlam.spacy_split as spacy_split  # noqa: E402
import fitlam.tokenize as fltok  # noqa: E402

try:
    import spacy
except ImportError:
    sys.exit('spaCy is needed for this benchmark: pip install -e ".[bench]"  (or: pip install "spacy>=3.7")')

_nlp = None  # spaCy pipeline of a fastai-style worker process


def load_texts(n=None):
    "The first n IMDb reviews of the sample (unlabelled.csv.gz first, then train, valid, test); n=None: all 18,500."
    folder = ROOT / "data" / "imdb_sample"
    texts = [t for split in ("unlabelled", "train", "valid", "test")
             for t in pd.read_csv(folder / f"{split}.csv.gz", dtype=str, keep_default_na=False).text]
    return texts[:n]


def clear_caches():
    fast._token_cache.clear()
    spacy_split._split_cache.clear()


def spacy_split(nlp, texts, **kwargs):
    return [[token.text for token in doc] for doc in nlp.pipe(texts, batch_size=1000, **kwargs)]


def fastai_style_one(nlp, text):
    "What fastai does with one text: rules, spaCy, case markers, xxbos (joined, like our workers return)."
    words = [token.text for token in nlp(fltok.apply_pre_rules(text))]
    return " ".join([fltok.BOS] + fltok.apply_post_rules(words))


def fastai_style_batch(texts):
    global _nlp
    if _nlp is None: _nlp = spacy.blank("en")
    return [fastai_style_one(_nlp, text) for text in texts]


def fastai_style_parallel(texts, n_workers, batch_size):
    "fastai's parallel tokenisation: a pool of processes, each running the rules and spaCy on batches."
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with concurrent.futures.ProcessPoolExecutor(n_workers, mp_context=ctx) as pool:
        return [joined.split(" ") for batch in pool.map(fastai_style_batch, batches) for joined in batch]


def cpu_seconds():
    "CPU time used so far by this process and its finished children (worker processes)."
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, repeat):
    "Best wall time, and the CPU time of that run, of `repeat` cold runs of fn() (fn sets up its own cold state)."
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        fn()
        best = min(best, (time.perf_counter() - start, cpu_seconds() - start_cpu))
    return best


def speed(texts, n_workers, repeat):
    clean = [fltok.apply_pre_rules(t) for t in texts]
    n_tokens = sum(len(doc) for doc in spacy_split(spacy.blank("en"), clean))
    batch = max(1, len(texts) // (4 * n_workers))

    def ours(workers):
        def run():
            clear_caches()
            fast.tokenize_texts(texts, n_workers=workers)
        return run

    def ours_split():
        clear_caches()
        [spacy_split.split_words(t) for t in clean]

    def spacy_run(**kwargs):
        def run():
            spacy_split(spacy.blank("en"), clean, **kwargs)
        return run

    def fastai_one():
        nlp = spacy.blank("en")
        [fastai_style_one(nlp, t) for t in texts]

    def fastai_parallel():
        fastai_style_parallel(texts, n_workers, batch)

    rows = [
        ("fitlam tokenize_texts (whole pipeline)", 1, ours(1)),
        ("fitlam tokenize_texts (whole pipeline)", n_workers, ours(n_workers)),
        ("fitlam split_words (splitter only)", 1, ours_split),
        ("spaCy nlp.pipe (splitter only)", 1, spacy_run()),
        ("spaCy nlp.pipe n_process (splitter only)", n_workers, spacy_run(n_process=n_workers)),
        ("fastai-style: rules + spaCy + post-rules", 1, fastai_one),
        ("fastai-style: rules + spaCy + post-rules", n_workers, fastai_parallel),
    ]
    seconds = {}
    print(f"\n{len(texts):,} reviews, {n_tokens:,} tokens (spaCy's split of the cleaned texts); "
          f"each row starts cold, best of {repeat}")
    print(f"{'':44s} {'procs':>5s} {'seconds':>8s} {'tokens/s':>10s} {'CPU s':>7s}")
    cpu = {}
    for name, procs, fn in rows:
        (seconds[name, procs], cpu[name, procs]) = (s, c) = timed(fn, repeat)
        print(f"{name:44s} {procs:5d} {s:8.2f} {n_tokens / s:10,.0f} {c:7.2f}", flush=True)
    clear_caches()
    [fast.tokenize(t) for t in texts]
    start = time.perf_counter(); [fast.tokenize(t) for t in texts]; warm = time.perf_counter() - start
    print(f"{'(fitlam tokenize, warm cache, for reference)':44s} {1:5d} {warm:8.2f} {n_tokens / warm:10,.0f}")
    print("(CPU s: CPU time of this process and its worker processes — less sensitive than wall time to other "
          "programs on the machine)")

    ours_all = seconds["fitlam tokenize_texts (whole pipeline)", n_workers]
    ours_1 = seconds["fitlam tokenize_texts (whole pipeline)", 1]
    spacy_1 = seconds["spaCy nlp.pipe (splitter only)", 1]
    spacy_best_all = min(seconds["spaCy nlp.pipe n_process (splitter only)", n_workers],
                         seconds["fastai-style: rules + spaCy + post-rules", n_workers])
    print("\nratios (how many times faster fitlam is):")
    for label, value in [
        (f"fitlam whole pipeline, {n_workers} procs  vs  spaCy splitter alone, 1 proc", spacy_1 / ours_all),
        (f"fitlam whole pipeline, {n_workers} procs  vs  spaCy splitter on {n_workers} procs (best way)",
         spacy_best_all / ours_all),
        (f"fitlam whole pipeline, {n_workers} procs  vs  fastai-style pipeline, {n_workers} procs",
         seconds["fastai-style: rules + spaCy + post-rules", n_workers] / ours_all),
        ("fitlam whole pipeline, 1 proc  vs  spaCy splitter alone, 1 proc", spacy_1 / ours_1),
        ("fitlam whole pipeline, 1 proc  vs  fastai-style pipeline, 1 proc",
         seconds["fastai-style: rules + spaCy + post-rules", 1] / ours_1),
        ("fitlam split_words  vs  spaCy nlp.pipe, 1 proc, splitter alone",
         spacy_1 / seconds["fitlam split_words (splitter only)", 1]),
        (f"fitlam: {n_workers} procs vs 1 proc (parallel speed-up)", ours_1 / ours_all),
        ("by CPU time: fitlam whole pipeline vs spaCy splitter alone, 1 proc each",
         cpu["spaCy nlp.pipe (splitter only)", 1] / cpu["fitlam tokenize_texts (whole pipeline)", 1]),
        ("by CPU time: fitlam whole pipeline vs fastai-style pipeline, 1 proc each",
         cpu["fastai-style: rules + spaCy + post-rules", 1] / cpu["fitlam tokenize_texts (whole pipeline)", 1]),
        (f"by CPU time: fitlam whole pipeline vs fastai-style pipeline, {n_workers} procs each",
         cpu["fastai-style: rules + spaCy + post-rules", n_workers]
         / cpu["fitlam tokenize_texts (whole pipeline)", n_workers]),
    ]:
        print(f"  {label:84s} {value:5.1f}x")


def agreement(texts, n_examples):
    clean = [fltok.apply_pre_rules(t) for t in texts]
    theirs = spacy_split(spacy.blank("en"), clean)
    ours = [spacy_split.split_words(t) for t in clean]
    differing, mismatched, total = 0, 0, 0
    examples = collections.Counter()
    for a, b, text in zip(ours, theirs, clean):
        total += len(b)
        if a == b: continue
        differing += 1
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=b, b=a, autojunk=False).get_opcodes():
            if op == "equal": continue
            mismatched += max(i2 - i1, j2 - j1)
            context = " ".join(b[max(0, i1 - 3):i2 + 3])
            examples[(context, " ".join(b[i1:i2]), " ".join(a[j1:j2]))] += 1
    print(f"\nagreement with spaCy {spacy.__version__} on {len(texts):,} cleaned IMDb reviews ({total:,} tokens):")
    print(f"  texts split differently: {differing} ({differing / len(texts):.3%})")
    print(f"  tokens that differ:      {mismatched} ({mismatched / total:.5%})")
    for (context, theirs_, ours_), n in examples.most_common(n_examples):
        print(f"  {n}x  spaCy {theirs_!r} / fitlam {ours_!r}   in: {context!r}")
    clear_caches()
    fast_path = sum(fast.tokenize(t) == fltok.tokenize_reference(t) for t in texts)
    print(f"  fast tokenize == tokenize_reference on {fast_path} of {len(texts)} texts")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="reviews for the speed test (default 5000, at most 18500)")
    parser.add_argument("--diff-n", type=int, default=None, help="reviews for the agreement test (default: all 18,500)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes for the parallel rows")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the best is kept")
    parser.add_argument("--examples", type=int, default=8, help="example differences to print")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"python {platform.python_version()}, spaCy {spacy.__version__}, {os.cpu_count()} cores, "
          f"load average {load}")
    if not args.skip_speed: speed(load_texts(args.n), args.workers, args.repeat)
    agreement(load_texts(args.diff_n), args.examples)


if __name__ == "__main__":
    main()
