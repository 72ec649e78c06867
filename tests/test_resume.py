"""Resuming an interrupted AWD-LSTM language-model run is bit-exact on the CPU: N steps in one go equal N/2 steps,
a checkpoint, a fresh process-like rebuild (new model, new loader, new learner), and the other N/2 steps."""
import numpy as np
import torch

from fitlam.awd_lstm import awd_lstm_lm, layer_groups
from fitlam.core import load_preset, seed_everything
from fitlam.learner import Callback, CheckpointCallback
from fitlam.loaders import LMLoader
from fitlam.pretrain import lm_learner
from fitlam.schedules import all_layers_plan, fit_plan


class Crash(Callback):
    order = 200  # after the checkpoint of that step is written
    def __init__(self, at): self.at = at
    def after_step(self, learn):
        if learn.step == self.at: raise KeyboardInterrupt


def build(seed, preset):
    "Everything a fresh process would build: documents, loaders, model, learner."
    seed_everything(seed)
    rng = np.random.default_rng(0)
    docs = [rng.integers(9, 60, rng.integers(30, 80)) for _ in range(40)]
    train = LMLoader(docs, preset.bs, preset.bptt, seed=preset.seed)
    valid = LMLoader(docs[:5], preset.bs, preset.bptt, shuffle=False, p_full=1.0, sd=0)
    model = awd_lstm_lm(60, preset)
    return lm_learner(model, train, valid, preset, lr=3e-3, progress=False), model


def test_awd_lstm_resume_is_bit_exact(tmp_path):
    p = load_preset("quick", bs=4, bptt=10)
    straight, model = build(0, p)
    fit_plan(straight, layer_groups(model), all_layers_plan(len(layer_groups(model)), 2), "stlr", bptt=p.bptt)
    total = straight.step
    assert total > 10

    cut, model = build(0, p)
    cut.add_cb(CheckpointCallback(tmp_path / "lm.pt", every=1))
    cut.add_cb(Crash(total // 2 + 1))
    try: fit_plan(cut, layer_groups(model), all_layers_plan(len(layer_groups(model)), 2), "stlr", bptt=p.bptt)
    except KeyboardInterrupt: pass
    assert cut.step == total // 2 + 1

    resumed, model = build(123, p)   # another seed: everything must come from the checkpoint
    resumed.load_checkpoint(tmp_path / "lm.pt")
    assert resumed.step == total // 2 + 1 and 0 < resumed.iter   # stopped in the middle of an epoch
    fit_plan(resumed, layer_groups(model), all_layers_plan(len(layer_groups(model)), 2), "stlr", bptt=p.bptt)
    assert resumed.step == total
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after resume"


# ---------------------------------------------------------------------------------------------------------------
# The pipeline and the command: an interrupted run continues from its last finished stage and epoch, and ends with
# the numbers of a run that was never interrupted.
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fitlam.learner import Callback
from fitlam.pipeline import run_fitlam, user_task

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

FITLAM = str(Path(sys.executable).parent / "fitlam")


class StopAfterEpochs(Callback):
    "Ctrl-C once `n` epochs have finished, counting those of every stage the callback joins (stages 2 and 3)."
    order = 200   # after CheckpointCallback has saved the epoch
    def __init__(self, n): self.n, self.done = n, 0
    def after_epoch(self, learn):
        self.done += 1
        if self.done == self.n: raise KeyboardInterrupt


def without_wall_times(metrics):
    "metrics.json's values, less the wall times (the only numbers an interruption may change)."
    if isinstance(metrics, dict): return {k: without_wall_times(v) for k, v in metrics.items() if k != "wall_s"}
    return metrics


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    "A task, a toy LM, and an uninterrupted forward run on them (the reference)."
    d = tmp_path_factory.mktemp("resume")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    p = load_preset("quick", bidirectional=False)
    task = user_task(d / "sentences.csv", text_col="sentence", label_col="verdict", seed=p.seed)
    reference = run_fitlam(p, out=d / "straight", task=task, pretrained=d / "lm_fwd", progress=False)
    return d, p, task, reference["metrics"]


def test_pipeline_resumes_inside_the_classifier_stage_exactly(setup):
    d, p, task, reference = setup
    with pytest.raises(KeyboardInterrupt):
        run_fitlam(p, out=d / "cut", task=task, pretrained=d / "lm_fwd", progress=False,
                   cbs=[StopAfterEpochs(p.lm_epochs + 1)])   # all of stage 2, then the classifier's first epoch
    assert (d / "cut" / "checkpoints" / "classifier_fwd.pt").is_file() and not (d / "cut" / "metrics.json").exists()
    assert not list((d / "cut").rglob(".tmp-*"))
    resumed = run_fitlam(p, out=d / "cut", task=task, pretrained=d / "lm_fwd", progress=False, resume=True)["metrics"]
    assert resumed["resumed_stages"] == ["finetune_lm_fwd"]   # stage 2 skipped; stage 3 continued from its checkpoint
    assert resumed["fwd"]["test"] == reference["fwd"]["test"]
    assert resumed["fwd"]["classifier"]["valid_loss"] == reference["fwd"]["classifier"]["valid_loss"]
    for name in ("history.csv", "lr_history.csv", "predictions.csv"):
        a, b = pd.read_csv(d / "straight" / name), pd.read_csv(d / "cut" / name)
        if name == "history.csv": a, b = a.drop(columns="time"), b.drop(columns="time")
        pd.testing.assert_frame_equal(a, b, obj=name)
    assert not (d / "cut" / "checkpoints").exists()   # spent once the stage is saved


def test_pipeline_resumes_inside_the_lm_stage_exactly(setup, tmp_path, capsys):
    "Stopped after stage 2's first of two epochs, a resumed run continues stage 2 from its checkpoint: same numbers."
    d, _, task, _ = setup
    p = load_preset("quick", bidirectional=False, lm_epochs=2)
    run = dict(task=task, pretrained=d / "lm_fwd", progress=False)
    run_fitlam(p, out=tmp_path / "straight", **run)
    with pytest.raises(KeyboardInterrupt):
        run_fitlam(p, out=tmp_path / "cut", cbs=[StopAfterEpochs(1)], **run)
    assert (tmp_path / "cut" / "checkpoints" / "lm_fwd.pt").is_file() and not (tmp_path / "cut" / "lm_fwd").exists()
    capsys.readouterr()
    resumed = run_fitlam(p, out=tmp_path / "cut", resume=True, **run)["metrics"]
    assert re.search(r"resuming finetune_lm_fwd from .*lm_fwd\.pt after epoch 1 \(step \d+\)", capsys.readouterr().out)
    assert resumed["stages"]["finetune_lm_fwd"]["epochs"] == 2 and resumed["resumed_stages"] == []
    straight, cut = (json.loads((tmp_path / run_dir / "metrics.json").read_text()) for run_dir in ("straight", "cut"))
    assert cut["fwd"]["finetune_lm"]["valid_perplexity_before"] == straight["fwd"]["finetune_lm"]["valid_perplexity_before"]
    assert without_wall_times(cut) == without_wall_times(straight)   # perplexities, accuracies, test scores: all equal
    for name in ("history.csv", "lr_history.csv", "predictions.csv"):
        a, b = pd.read_csv(tmp_path / "straight" / name), pd.read_csv(tmp_path / "cut" / name)
        if name == "history.csv": a, b = a.drop(columns="time"), b.drop(columns="time")
        pd.testing.assert_frame_equal(a, b, obj=name)
    assert not (tmp_path / "cut" / "checkpoints").exists()   # both stages' checkpoints spent


def test_resuming_a_finished_run_skips_every_stage(setup):
    d, p, task, reference = setup
    again = run_fitlam(p, out=d / "straight", task=task, pretrained=d / "lm_fwd", progress=False, resume=True)["metrics"]
    assert again["resumed_stages"] == ["finetune_lm_fwd", "classifier_fwd"]
    assert again["fwd"]["test"] == reference["fwd"]["test"] and again["baseline"] == reference["baseline"]


def test_a_damaged_stage_runs_again(setup, tmp_path):
    d, p, task, reference = setup
    import shutil
    shutil.copytree(d / "straight", tmp_path / "run")
    weights = next((tmp_path / "run" / "classifier_fwd").glob("weights-*.pth"))
    weights.write_bytes(weights.read_bytes()[:100])   # truncated, as by a full disk
    again = run_fitlam(p, out=tmp_path / "run", task=task, pretrained=d / "lm_fwd", progress=False, resume=True)["metrics"]
    assert again["resumed_stages"] == ["finetune_lm_fwd"] and again["fwd"]["test"] == reference["fwd"]["test"]


def test_ctrl_c_then_resume_from_the_command_line(setup):
    "SIGINT once stage 2 is saved (wherever stage 3, scoring or the report then are): exit 130, one line, nothing"
    "half-written; the same command with --resume finishes with the uninterrupted run's numbers."
    d, p, task, reference = setup
    out = d / "cli"
    argv = [FITLAM, "train", "--data", str(d / "sentences.csv"), "--text-col", "sentence", "--label-col", "verdict",
            "--preset", "quick", "--set", "bidirectional=false", "--pretrained", str(d / "lm_fwd"), "--out", str(out)]
    # SIGINT as a terminal delivers it, whatever the test runner's own disposition is (an ignored SIGINT is inherited)
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while not (out / "lm_fwd" / "stage.json").exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert child.poll() is None, "the run finished before stage 2's stage.json was seen: nothing left to interrupt"
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 130, (child.returncode, stderr[-2000:])
    assert stderr.strip().splitlines()[-1].startswith("fitlam: interrupted; finished stages")
    assert "Traceback" not in stderr and not list(out.rglob(".tmp-*"))
    done = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "finetune_lm_fwd" in metrics["resumed_stages"] and "resumed:" in done.stdout
    assert metrics["fwd"]["test"] == reference["fwd"]["test"] and metrics["baseline"] == reference["baseline"]
    assert (out / "report.html").is_file()
