"""The `fitlam` command as a user meets it: help, one-line errors with a non-zero exit, no tracebacks."""
import subprocess
import sys
from pathlib import Path

FITLAM = str(Path(sys.executable).parent / "fitlam")


def fitlam(*args, env=None):
    return subprocess.run([FITLAM, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)


def test_help_lists_commands_and_examples():
    done = fitlam("--help")
    assert done.returncode == 0 and "run" in done.stdout and "examples:" in done.stdout


def test_bogus_preset_is_a_one_line_error():
    done = fitlam("run", "--preset", "bogus")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "unknown preset 'bogus'" in done.stderr and "quick" in done.stderr and "demo" in done.stderr
    assert "Traceback" not in done.stderr


def test_bogus_preset_from_the_environment(monkeypatch):
    import os
    env = {**os.environ, "FITLAM_PRESET": "nope"}
    done = subprocess.run([sys.executable, "-c", "from fitlam.core import load_preset; load_preset()"],
                          capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "unknown preset 'nope'; valid presets: " in done.stderr


def test_presets_command_shows_every_preset():
    done = fitlam("presets")
    assert done.returncode == 0
    header = done.stdout.splitlines()[0].split()
    assert {"quick", "demo", "colab", "paper"} <= set(header)


def test_env_report():
    done = fitlam("env")
    assert done.returncode == 0 and "torch:" in done.stdout and "device:" in done.stdout


# ---------------------------------------------------------------------------------------------------------------
# `fitlam train` / `predict` on data the kit has never seen, every command's --help, and the user errors.
import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fitlam.cli import main


def three_way_table(n_per_class: int = 60) -> pd.DataFrame:
    """A task the kit never trained on, with its own column names and three string classes: review sentences
    (rotten_tomatoes) that are 'thumbs down' or 'thumbs up', and book sentences (general_english), 'not a review'.
    (The embedded splits are stored in their seeded-hash order, so we sample rather than take the first rows.)"""
    from fitlam.data import load_dataset
    reviews = load_dataset("rotten_tomatoes", "test")
    books = [s.strip() + " ." for text in load_dataset("general_english", "valid").text
             for s in text.replace("\n", " ").split(" . ") if 8 <= len(s.split()) <= 30]
    rows = [{"sentence": t, "verdict": {"neg": "thumbs down", "pos": "thumbs up"}[label], "id": f"{label}{i}"}
            for label in ("neg", "pos")
            for i, t in enumerate(reviews[reviews.label == label].text.sample(n_per_class, random_state=0))]
    rows += [{"sentence": s, "verdict": "not a review", "id": f"book{i}"} for i, s in enumerate(books[:n_per_class])]
    return pd.DataFrame(rows)


def toy_lm(folder: Path, backwards: bool = False) -> Path:
    "A quick-preset LM (one epoch of pretraining), so the runs below don't each pretrain one."
    from fitlam.core import load_preset
    from fitlam.pretrain import lm_config, pretrain_lm, save_lm
    p = load_preset("quick", pretrain_epochs=1)
    run = pretrain_lm(p, backwards=backwards, progress=False)
    return save_lm(folder, run["model"], run["vocab"], lm_config(p, backwards))


def call(*argv):
    "Run `fitlam argv` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: code = main(list(map(str, argv)))
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    return d


COMMANDS = ["run", "train", "predict", "pretrain", "finetune-lm", "report", "presets", "env"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    code, out, _ = call(command, "--help")
    assert code == 0 and "examples:" in out and f"fitlam {command}" in out


def test_help_lists_every_command():
    code, out, _ = call("--help")
    assert code == 0 and all(c in out for c in COMMANDS)


def test_train_and_predict_on_data_the_kit_has_never_seen(work):
    run = work / "run"
    done = fitlam("train", "--data", work / "sentences.csv", "--text-col", "sentence", "--label-col", "verdict",
                  "--preset", "quick", "--set", "bidirectional=false", "--pretrained", work / "lm_fwd", "--out", run)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == ["not a review", "thumbs down", "thumbs up"]
    assert metrics["n_test"] == 18 and metrics["n_valid"] == 18 and metrics["n_labels"] == 144
    # the printed summary is metrics.json, rounded
    fwd, base = metrics["fwd"]["test"], metrics["baseline"]["test"]
    assert f"FitLaM forward                 accuracy {fwd['accuracy']:.4f}   macro-F1 {fwd['macro_f1']:.4f}" in done.stdout
    assert f"accuracy {base['accuracy']:.4f}" in done.stdout
    assert f"{metrics['fwd']['finetune_lm']['valid_perplexity']:.1f} after" in done.stdout
    # the run folder: splits saved, stages, tables, report
    for name in ("config.json", "history.csv", "lr_history.csv", "predictions.csv", "report.html",
                 "data/train.csv", "data/test.csv", "lm_fwd/fitlam-model.json", "classifier_fwd/fitlam-model.json"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["clf_epochs"] == 2 and config["run"]["task"]["text_col"] == "sentence"
    lrs = pd.read_csv(run / "lr_history.csv")
    assert list(lrs.columns) == ["stage", "phase", "step", "group", "lr", "frozen", "weight_decay", "loss"]
    # each step's training loss, the same in every group's row of that step, finite
    assert lrs.loss.notna().all() and (lrs.groupby(["stage", "step"]).loss.nunique() == 1).all()
    # what the optimiser applied: the preset's weight decay in every stage and group (it was silently 0 in the LM
    # stages once), and every group training in the classifier's last phase (gradual unfreezing reaches the bottom)
    assert set(lrs.stage) == {"finetune_lm_fwd", "classifier_fwd"}
    assert (lrs.weight_decay == config["weight_decay"]).all() and config["weight_decay"] > 0
    classifier = lrs[lrs.stage == "classifier_fwd"]
    last_phase = classifier[classifier.step > classifier.step.max() - 5]
    assert last_phase.group.nunique() == config["n_layers"] + 2 and not last_phase.frozen.any()
    # predict: text column defaults to the training one; every row, its columns kept, probabilities summing to 1
    new = three_way_table(10).drop(columns="verdict").sample(frac=1, random_state=0)
    new.to_csv(work / "new.csv", index=False)
    done = fitlam("predict", "--model", run, "--data", work / "new.csv", "--out", work / "predictions.tsv")
    assert done.returncode == 0, done.stderr[-3000:]
    out = pd.read_csv(work / "predictions.tsv", sep="\t")
    assert list(out.columns) == ["sentence", "id", "prediction", "prob_not a review", "prob_thumbs down", "prob_thumbs up"]
    assert list(out.id) == list(new.id) and set(out.prediction) <= set(metrics["classes"])
    np.testing.assert_allclose(out.filter(like="prob_").sum(axis=1), 1.0, atol=1e-4)
    assert (out.prediction == out.filter(like="prob_").idxmax(axis=1).str[5:]).all()


def test_numeric_labels_become_classes(tmp_path):
    from fitlam.pipeline import user_task
    table = three_way_table(20)
    table["stars"] = table.verdict.map({"thumbs down": 1, "thumbs up": 5, "not a review": 3})
    table.to_csv(tmp_path / "stars.csv", index=False)
    task = user_task(tmp_path / "stars.csv", text_col="sentence", label_col="stars")
    assert sorted(task["train"].label.unique()) == ["1", "3", "5"]


def test_finetune_lm_alone_on_your_texts(work):
    code, out, err = call("finetune-lm", "--data", work / "sentences.csv", "--text-col", "sentence", "--preset", "quick",
                          "--pretrained", work / "lm_fwd", "--out", work / "tuned")
    assert code == 0, err
    assert {"fitlam-model.json", "card.json", "history.csv", "lr_history.csv"} <= {f.name for f in (work / "tuned").iterdir()}
    card = json.loads((work / "tuned" / "card.json").read_text())
    assert card["valid_perplexity"] < card["valid_perplexity_before"] and "saved to" in out


def test_pretrain_continues_a_saved_lm_for_a_further_cycle(work):
    code, out, err = call("pretrain", "--preset", "quick", "--start", work / "lm_fwd", "--epochs", "1",
                          "--set", "drop_mult=0.25", "--out", work / "more_fwd")
    assert code == 0, err
    card = json.loads((work / "more_fwd" / "card.json").read_text())
    assert card["continued"] and card["started_from"]["folder"] == str(work / "lm_fwd") and card["epochs"] == 1
    assert "--start" in card["command"] and card["words_from_vectors"] == 0   # the start's rows, not GloVe's again
    from fitlam.pretrain import load_lm
    start, vocab, _ = load_lm(work / "lm_fwd")
    more, more_vocab, config = load_lm(work / "more_fwd")
    assert more_vocab.itos == vocab.itos and config["input_p"] == pytest.approx(0.4 * 0.25)   # this cycle's dropout
    assert not torch.equal(start.encoder.embedding.weight, more.encoder.embedding.weight)   # it trained


def error_cases(d: Path) -> dict:
    "name -> (argv, what the one line must say)"
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("sentence,verdict\n")
    pd.DataFrame({"sentence": ["a b c", "d e f", "g h"], "verdict": ["x", "x", "x"]}).to_csv(d / "one.csv", index=False)
    (d / "binary.csv").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (d / "notes.docx").write_text("hello")
    (d / "full").mkdir(exist_ok=True); (d / "full" / "keep.txt").write_text("mine")
    (d / "not_a_model").mkdir(exist_ok=True)
    train = ["train", "--text-col", "sentence", "--label-col", "verdict", "--preset", "quick", "--out", d / "out"]
    return {
        "missing column": (["train", "--data", d / "sentences.csv", "--out", d / "o1"],
                           "has no columns 'text' and 'label'; its columns are: sentence, verdict, id"),
        "empty file": ([*train, "--data", d / "empty.csv"], "is empty"),
        "no rows": ([*train, "--data", d / "header.csv"], "has a header but no rows"),
        "one class": ([*train, "--data", d / "one.csv"], "a classifier needs at least 2 classes"),
        "unreadable file": ([*train, "--data", d / "binary.csv"], "looks like a binary file"),
        "unknown format": ([*train, "--data", d / "notes.docx"], "don't know how to read notes.docx"),
        "no such file": ([*train, "--data", d / "nope.csv"], "not found"),
        "not a model": (["predict", "--model", d / "not_a_model", "--data", d / "sentences.csv", "--out", d / "p.csv"],
                        "is not a fitlam model"),
        "no such model": (["predict", "--model", d / "nope", "--data", d / "sentences.csv", "--out", d / "p.csv"],
                          "not found"),
        "non-empty out": ([*train[:-1], d / "full", "--data", d / "sentences.csv"], "is not empty"),
        "resume of nothing": ([*train[:-1], d / "full", "--data", d / "sentences.csv", "--resume"], "no fitlam run to resume"),
        "bad --set": (["run", "--set", "clf_epochs"], "--set takes KEY=VALUE"),
        "unknown key": (["run", "--set", "colour=blue"], "unknown preset key 'colour'"),
        "value out of range": (["run", "--set", "clip=-1"], "clip=-1.0 is out of range: clip must be 0 (no clipping) or more"),
        "infinite lr": ([*train, "--data", d / "sentences.csv", "--set", "lm_lr=inf"], "lm_lr=inf is not a finite number"),
        "zero batch size": ([*train, "--data", d / "sentences.csv", "--set", "clf_bs=0"], "clf_bs=0 is out of range"),
        "wt103 too small": ([*train, "--data", d / "sentences.csv", "--pretrained", "wt103"], "use --preset paper or colab"),
        "missing LM folder": ([*train, "--data", d / "sentences.csv", "--pretrained", d / "nope"], "not found"),
        "missing argument": (["train", "--out", d / "o2"], "the following arguments are required: --data"),
        "report of no run": (["report", d / "not_a_model"], "has no metrics.json"),
        "start of the other direction": (["pretrain", "--preset", "quick", "--start", d / "lm_fwd", "--backwards",
                                          "--out", d / "o3"], "reads forwards; drop --backwards"),
        "start with other words": (["pretrain", "--preset", "quick", "--start", d / "lm_fwd", "--set", "max_vocab=500",
                                    "--out", d / "o4"], "knows other words"),
    }


@pytest.mark.parametrize("case", [
    "missing column", "empty file", "no rows", "one class", "unreadable file", "unknown format", "no such file",
    "not a model", "no such model", "non-empty out", "resume of nothing", "bad --set", "unknown key",
    "value out of range", "infinite lr", "zero batch size", "wt103 too small", "missing LM folder", "missing argument", "report of no run",
    "start of the other direction", "start with other words"])
def test_user_errors_are_one_line(work, case):
    argv, expected = error_cases(work)[case]
    code, _, err = call(*argv)
    assert code == 2, (case, err)
    assert err.startswith("fitlam: error: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err, err


def test_a_user_error_exits_2_from_the_shell(work):
    done = fitlam("predict", "--model", work, "--data", work / "sentences.csv", "--out", work / "p.csv")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is not a fitlam model" in done.stderr
