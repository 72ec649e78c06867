"""A run whose loss or gradients become nan/inf stops with one line naming the learning rate, takes no step on them,
and keeps the last good checkpoint, from which `--resume` ends with the numbers of a run that never diverged."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fitlam.core import FitlamError, load_preset
from fitlam.learner import Callback, DivergedError, read_checkpoint
from fitlam.pipeline import run_fitlam, user_task

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

FITLAM = str(Path(sys.executable).parent / "fitlam")


class PoisonAfterEpochs(Callback):
    "Once `n` epochs have finished (counting every stage it joins), make the next loss nan, as an overflow would."
    def __init__(self, n): self.n, self.done = n, 0
    def after_epoch(self, learn): self.done += 1
    def after_loss(self, learn):
        if self.done == self.n: learn.loss = learn.loss * float("nan")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("diverge")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    return d


def test_a_diverged_run_keeps_its_last_good_checkpoint_and_resumes_from_it(work, tmp_path):
    p = load_preset("quick", bidirectional=False)
    task = user_task(work / "sentences.csv", text_col="sentence", label_col="verdict", seed=p.seed)
    run = dict(task=task, pretrained=work / "lm_fwd", progress=False)
    reference = run_fitlam(p, out=tmp_path / "straight", **run)["metrics"]
    out = tmp_path / "diverged"
    with pytest.raises(DivergedError) as e:   # all of stage 2 and the classifier's first epoch went well
        run_fitlam(p, out=out, cbs=[PoisonAfterEpochs(p.lm_epochs + 1)], **run)
    message = str(e.value)
    assert isinstance(e.value, FitlamError) and "\n" not in message
    assert message.startswith("training diverged: the loss became nan at optimiser step ") and "(epoch 1, batch 0)" in message
    assert "with learning rate" in message and "lower the learning rate" in message
    assert message.endswith(f"the last good checkpoint is kept: {out / 'checkpoints' / 'classifier_fwd.pt'}")
    state = read_checkpoint(out / "checkpoints" / "classifier_fwd.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values())
    assert not (out / "metrics.json").exists() and not (out / "classifier_fwd").exists()
    resumed = run_fitlam(p, out=out, resume=True, **run)["metrics"]
    assert resumed["resumed_stages"] == ["finetune_lm_fwd"]
    assert resumed["fwd"]["test"] == reference["fwd"]["test"]
    assert resumed["fwd"]["classifier"]["valid_loss"] == reference["fwd"]["classifier"]["valid_loss"]


def test_the_command_names_the_learning_rate(work, tmp_path):
    "A learning rate far too high: the gradients overflow in the classifier's first steps; one line, exit status 2."
    done = subprocess.run([FITLAM, "train", "--data", str(work / "sentences.csv"), "--text-col", "sentence",
                           "--label-col", "verdict", "--preset", "quick", "--set", "bidirectional=false",
                           "--set", "clf_lr=1e8", "--pretrained", str(work / "lm_fwd"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fitlam: error: training diverged: the "), done.stderr
    assert "with learning rate" in done.stderr and "e+0" in done.stderr and "clf_lr=" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run" / "metrics.json").exists()
