"""No model file may run code. A saved model's weights file or a checkpoint is a pickle, and a pickle can ask to call any function
when it is read; the kit reads them with `weights_only=True`, so such a file is refused with a one-line error naming
it, and the call never happens. Every hostile file here is made by the test itself."""
import hashlib
import json
import os
import random
import shutil
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fitlam.core import FitlamError
from fitlam.learner import (CHECKPOINT_FORMAT, Learner, UnsafeFileError, read_checkpoint, rng_states,
                            set_rng_states)
from fitlam.run_folder import usable_checkpoint
from fitlam.pretrain import load_lm, shipped_lm_dir
from fitlam.saved import OLD_LM_FILE, OLD_LM_FORMAT, read_manifest

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

FITLAM = str(Path(sys.executable).parent / "fitlam")


class ShellPayload:
    "What an attacker pickles into a model file: unpickling it runs a shell command that creates `marker`."
    def __init__(self, marker: Path): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def with_payload(state: dict, path: Path, marker: Path) -> Path:
    "Save `state` (a real model's or checkpoint's dict) with the payload tucked in beside it."
    torch.save({**state, "payload": ShellPayload(marker)}, path)
    return path


def crafted_lm(source: Path, folder: Path, marker: Path) -> Path:
    """A copy of the saved LM in `source` whose weights file carries the payload, its checksum written into the manifest
    as a tampering attacker would: only reading the weights with `weights_only=True` stands between it and the call."""
    shutil.copytree(source, folder)
    path, manifest = read_manifest(folder, "language_model")
    entry = manifest["files"]["weights"]
    weights = folder / entry["name"]
    with_payload(torch.load(weights, weights_only=True), weights, marker)
    entry["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest))
    return weights


def test_the_payload_is_live(tmp_path):
    "The hostile files below really do run their command when loaded the old way (so refusing them means something)."
    marker = tmp_path / "ran"
    with_payload({"weight": torch.zeros(2)}, tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_the_shipped_lms_load_with_weights_only(direction):
    _, manifest = read_manifest(shipped_lm_dir(direction), "language_model")
    weights = torch.load(shipped_lm_dir(direction) / manifest["files"]["weights"]["name"], map_location="cpu", weights_only=True)
    assert weights and all(torch.is_tensor(v) and v.dtype in (torch.float16, torch.int64) for v in weights.values())
    model, vocab, config = load_lm(shipped_lm_dir(direction))
    assert len(vocab) == 8000 and config["backwards"] == (direction == "bwd")


def test_a_crafted_lm_weights_file_is_refused(tmp_path):
    marker = tmp_path / "ran"
    evil = crafted_lm(shipped_lm_dir(), tmp_path / "lm", marker)
    with pytest.raises(UnsafeFileError) as e:
        load_lm(tmp_path / "lm")
    message = str(e.value)
    assert f"refused to load {evil}" in message and "posix.system" in message and "\n" not in message
    assert not marker.exists()


def test_a_crafted_model_pt_of_the_earlier_format_is_refused(tmp_path):
    "Language models saved by earlier versions (one model.pt) still load, so they are read just as carefully."
    model, vocab, config = load_lm(shipped_lm_dir())
    state = {"format": OLD_LM_FORMAT, "config": config, "itos": vocab.itos, "state_dict": model.state_dict()}
    (tmp_path / "old").mkdir()
    torch.save(state, tmp_path / "old" / OLD_LM_FILE)
    again, _, _ = load_lm(tmp_path / "old")   # the earlier format loads
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values()))
    marker = tmp_path / "ran"
    evil = with_payload(state, tmp_path / "old" / OLD_LM_FILE, marker)
    with pytest.raises(UnsafeFileError) as e:
        load_lm(tmp_path / "old")
    assert f"refused to load {evil}" in str(e.value)
    assert not marker.exists()


def tiny_learner():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    return Learner(model, [(torch.randn(2, 4), torch.tensor([0, 1]))], device="cpu", progress=False)


def test_a_crafted_checkpoint_is_refused_and_kept_for_the_user_to_see(tmp_path, capsys):
    learn = tiny_learner()
    good = learn.save_checkpoint(tmp_path / "good.pt", stage="finetune_lm_fwd", lr_rows=[("s", "p", 1, 0, 0.1, False)])
    marker = tmp_path / "ran"
    (tmp_path / "checkpoints").mkdir()
    evil = with_payload(read_checkpoint(good), tmp_path / "checkpoints" / "lm_fwd.pt", marker)
    with pytest.raises(UnsafeFileError, match="refused to load .*lm_fwd.pt: .* could run code"):
        learn.load_checkpoint(evil)
    with pytest.raises(UnsafeFileError):
        usable_checkpoint(evil)    # resuming: stops the run, unlike a merely damaged checkpoint ...
    assert evil.exists() and not marker.exists()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    assert usable_checkpoint(truncated) is False and not truncated.exists()   # ... which is reported and deleted
    assert "training this stage from its start" in capsys.readouterr().out


def test_a_checkpoint_from_before_this_change_is_refused_with_the_fix(tmp_path):
    "Old checkpoints pickled NumPy's random state as an array: refused, saying to delete it and --resume again."
    learn = tiny_learner()
    state = read_checkpoint(learn.save_checkpoint(tmp_path / "new.pt"))
    torch.save({**state, "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                                 "torch": torch.get_rng_state()}}, tmp_path / "old.pt")
    with pytest.raises(UnsafeFileError) as e:
        read_checkpoint(tmp_path / "old.pt")
    assert "multiarray._reconstruct" in str(e.value) and "--resume again" in str(e.value)


def test_a_checkpoint_is_plain_data_and_restores_every_generator(tmp_path):
    learn = tiny_learner()
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    np.random.standard_normal()   # leaves a cached gaussian in NumPy's state
    path = learn.save_checkpoint(tmp_path / "c.pt", stage="s", n=np.int64(4), lrs=np.array([0.5, 0.25]))
    expected = random.random(), np.random.standard_normal(), np.random.random(), torch.rand(2)
    random.seed(9); np.random.seed(9); torch.manual_seed(9)
    state = torch.load(path, map_location="cpu", weights_only=True)   # loads without allowing any global
    assert state["format"] == CHECKPOINT_FORMAT and state["extra"] == {"stage": "s", "n": 4, "lrs": [0.5, 0.25]}
    set_rng_states(state["rng"])
    again = random.random(), np.random.standard_normal(), np.random.random(), torch.rand(2)
    assert expected[:3] == again[:3] and torch.equal(expected[3], again[3])
    assert rng_states()["numpy"]["key"].dtype == torch.int64
    with pytest.raises(FitlamError, match=r"extra\['where'\] is a PosixPath"):
        learn.save_checkpoint(tmp_path / "bad.pt", where=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# The same through the command: `fitlam train --pretrained DIR` and `--resume` meet a hostile file.

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("unsafe")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    return d


def train_argv(d: Path, out: Path, pretrained: Path) -> list[str]:
    return [FITLAM, "train", "--data", str(d / "sentences.csv"), "--text-col", "sentence", "--label-col", "verdict",
            "--preset", "quick", "--set", "bidirectional=false", "--pretrained", str(pretrained), "--out", str(out)]


def assert_refused(done, path: Path, marker: Path):
    assert done.returncode != 0, done.stdout[-2000:]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fitlam: error: refused to load "), done.stderr
    assert str(path) in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()


def test_the_command_refuses_a_crafted_pretrained_lm(work, tmp_path):
    evil_dir, marker = tmp_path / "evil_lm", tmp_path / "ran"
    evil = crafted_lm(work / "lm_fwd", evil_dir, marker)
    done = subprocess.run(train_argv(work, tmp_path / "run", evil_dir), capture_output=True, text=True, timeout=600)
    assert_refused(done, evil, marker)
    assert not (tmp_path / "run").exists()   # refused before any run folder was made


def test_the_command_refuses_a_crafted_checkpoint_on_resume(work, tmp_path):
    out, marker = tmp_path / "run", tmp_path / "ran"
    done = subprocess.run(train_argv(work, out, work / "lm_fwd"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # as if the run had stopped inside stage 2, leaving a checkpoint: someone swapped in a hostile one
    (out / "lm_fwd" / "stage.json").unlink()
    learn = tiny_learner()
    state = read_checkpoint(learn.save_checkpoint(tmp_path / "real.pt", stage="finetune_lm_fwd", lr_rows=[]))
    (out / "checkpoints").mkdir()
    evil = with_payload(state, out / "checkpoints" / "lm_fwd.pt", marker)
    done = subprocess.run([*train_argv(work, out, work / "lm_fwd"), "--resume"], capture_output=True, text=True,
                          timeout=600)
    assert_refused(done, evil, marker)
    assert evil.exists()   # left for the user to look at, not silently deleted
