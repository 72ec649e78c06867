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
