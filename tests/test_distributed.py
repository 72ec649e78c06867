"""Stages 1 and 2 on several processes (torch.distributed, gloo on this CPU): `torchrun --nproc_per_node=2 -m fitlam
pretrain` resumes exactly after being stopped, a checkpoint written by two processes resumes on one, and `finetune-lm`
on two processes takes one process's steps. (That pretraining does too is shown and checked in nbs/22_distributed.ipynb.)"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from fitlam.core import load_preset
from fitlam.data import load_pretrain_corpus
from fitlam.saved import load_model

PYTHON = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "corpus.txt"
    texts = load_pretrain_corpus(load_preset("quick"))["train"][:15]   # ~60k tokens: a few seconds an epoch
    path.write_text("\n\n".join(t.replace("\n\n", "\n") for t in texts))
    return path


def pretrain_cmd(n_procs, corpus, out, *extra):
    launcher = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n_procs)] if n_procs > 1 else [PYTHON]
    return launcher + ["-m", "fitlam", "pretrain", "--corpus", str(corpus), "--preset", "quick", "--epochs", "2",
                       "--out", str(out), *extra]


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
    return done


def killed_midway(cmd, checkpoint: Path):
    "Start `cmd` and stop it (SIGTERM, as a cluster's scheduler or a closed terminal does) once a checkpoint exists."
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while not checkpoint.is_file():
        assert proc.poll() is None, f"the run ended before writing a checkpoint: {proc.stderr.read().decode()[-2000:]}"
        assert time.time() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.05)
    time.sleep(0.5)   # inside the run, a checkpoint or two later
    os.killpg(proc.pid, signal.SIGTERM)   # torchrun passes it on to its worker processes and waits for them
    proc.wait(timeout=60)


def steps(folder):
    return pd.read_csv(folder / "lr_history.csv")


def weights(folder):
    return load_model(folder, "language_model")["weights"]


def test_two_processes_resume_exactly_after_a_kill(corpus_file, tmp_path):
    often = ["--set", "checkpoint_minutes=0.005"]   # a checkpoint every ~0.3 s, inside epochs
    straight = tmp_path / "straight"
    run(pretrain_cmd(2, corpus_file, straight, *often))
    card = json.loads((straight / "card.json").read_text())
    assert (card["world_size"], card["rows_per_process"], card["epochs"]) == (2, 4, 2)
    assert card["corpus_prepared"]["n_tokens"] > 0 and card["train_tokens_per_s"] > 0

    cut = tmp_path / "cut"
    killed_midway(pretrain_cmd(2, corpus_file, cut, *often), cut / "checkpoints" / "pretrain_fwd.pt")
    assert not (cut / "fitlam-model.json").exists() and (cut / "checkpoints" / "pretrain_fwd.pt").is_file()
    done = run(pretrain_cmd(2, corpus_file, cut, *often, "--resume"))
    assert "resuming pretrain from" in done.stdout
    a, b = steps(straight), steps(cut)
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a, b)   # every step's rates and loss, dropout on: bit for bit
    for name, tensor in weights(straight).items(): assert torch.equal(tensor, weights(cut)[name]), name
    assert not (cut / "checkpoints").exists()


def test_a_two_process_checkpoint_resumes_on_one(corpus_file, tmp_path):
    "Saved with all rows' hidden states, a checkpoint continues on another number of processes (dropout off: same steps)."
    opts = ["--set", "checkpoint_minutes=0.005", "--set", "drop_mult=0"]
    straight = tmp_path / "straight"
    run(pretrain_cmd(2, corpus_file, straight, *opts))
    cut = tmp_path / "cut"
    killed_midway(pretrain_cmd(2, corpus_file, cut, *opts), cut / "checkpoints" / "pretrain_fwd.pt")
    done = run(pretrain_cmd(1, corpus_file, cut, *opts, "--resume"))
    assert "resuming pretrain from" in done.stdout
    a, b = steps(straight), steps(cut)
    assert len(a) == len(b)
    pd.testing.assert_series_equal(a.lr, b.lr)
    assert (a.loss - b.loss).abs().max() < 1e-3
    assert json.loads((cut / "card.json").read_text())["world_size"] == 1


def test_finetune_lm_on_two_processes_takes_one_process_steps(corpus_file, tmp_path):
    "`torchrun -m fitlam finetune-lm`: every step's loss as with one process and the same global batch (dropout off)."
    run(pretrain_cmd(1, corpus_file, tmp_path / "lm", "--set", "drop_mult=0"))
    texts = tmp_path / "texts.csv"
    pd.DataFrame({"text": [t.replace("\n", " ") for t in corpus_file.read_text().split("\n\n")][::-1]}).to_csv(texts, index=False)
    folders = {}
    for n_procs in (1, 2):
        launcher = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] if n_procs > 1 else [PYTHON]
        folders[n_procs] = tmp_path / f"tuned_{n_procs}"
        run(launcher + ["-m", "fitlam", "finetune-lm", "--data", str(texts), "--pretrained", str(tmp_path / "lm"),
                        "--preset", "quick", "--set", "lm_drop_mult=0", "--out", str(folders[n_procs])])
    one, two = (steps(folders[n]).groupby("step").loss.first() for n in (1, 2))
    assert len(one) == len(two) > 50
    assert (one - two).abs().max() < 1e-4
    marker = json.loads((folders[2] / "stage.json").read_text())
    assert marker["metrics"]["world_size"] == 2
