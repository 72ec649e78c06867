"""fitlam.widgets without a browser: moving a control changes the plotted data as the formula says, a real record
lines up with its design, loss curves carry units and legends, the live dashboard records every batch and epoch,
and the next-word functions give probabilities."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from fitlam import widgets as W
from fitlam.awd_lstm import awd_lstm_lm
from fitlam.core import FitlamError, load_preset, seed_everything
from fitlam.learner import Learner
from fitlam.loaders import LMLoader
from fitlam.schedules import design_lr_table, discriminative_lrs
from fitlam.tokenize import Vocab


def test_explorer_controls_follow_the_formulas():
    base = W.explorer_table()
    assert base.step.nunique() == 6 * 50 and base.group.nunique() == 5
    # discriminative factor: the ends are factor^(n-1) apart at every step
    for factor in (1.0, 2.0, 3.5):
        wide = W.explorer_table(factor=factor, gradual_unfreezing=False).pivot(index="step", columns="group", values="lr")
        np.testing.assert_allclose(wide[4] / wide[0], factor ** 4, rtol=1e-12)
    # base lr scales everything
    np.testing.assert_allclose(W.explorer_table(base_lr=0.02).lr, 2 * base.lr, rtol=1e-12)
    # epochs and iterations per epoch set the number of steps
    assert W.explorer_table(epochs=3, iters_per_epoch=20).step.nunique() == 60
    # layer groups
    assert W.explorer_table(n_groups=3).group.nunique() == 3
    # gradual unfreezing: epoch e trains the top e+1 groups
    frozen = base.groupby([base.step // 50, "group"]).frozen.all().unstack()
    assert frozen.sum(axis=1).tolist() == [4, 3, 2, 1, 0, 0]
    assert not W.explorer_table(gradual_unfreezing=False).frozen.any()
    # cut_frac moves STLR's peak; ratio sets its floor
    one = dict(gradual_unfreezing=False, epochs=1, iters_per_epoch=100)
    for cut_frac in (0.1, 0.25, 0.4):
        top = W.explorer_table(cut_frac=cut_frac, **one).query("group == 4").set_index("step").lr
        assert top.idxmax() == math.floor(100 * cut_frac)
    top = W.explorer_table(ratio=8, **one).query("group == 4").lr
    assert top.iloc[0] == pytest.approx(0.01 / 8)
    # the schedule control picks the schedule; cut_frac/ratio don't act on the others
    for schedule in ("cosine", "warmup_reverse", "one_cycle", "constant"):
        table = W.explorer_table(schedule=schedule, **one)
        assert table.lr.tolist() == W.explorer_table(schedule=schedule, cut_frac=0.4, ratio=4, **one).lr.tolist()
    assert W.explorer_table(schedule="constant", **one).query("group == 4").lr.nunique() == 1


def test_lr_summary_says_what_is_plotted():
    assert W.lr_summary(W.explorer_table(epochs=8)) == (
        "400 optimiser steps · peak lr: head 1.00e-02, embedding 2.19e-04 (×45.7 apart) · frozen: 25% of group-steps")


def test_lr_explorer_widget_redraws_on_every_control():
    explorer = W.lr_explorer()
    changes = {"base_lr": 0.001, "factor": 1.5, "schedule": "one_cycle", "n_groups": 3, "epochs": 2,
               "iters_per_epoch": 20, "gradual_unfreezing": False, "log": False}
    for name, value in changes.items():
        before = explorer.image.value
        explorer.controls[name].value = value
        assert explorer.image.value != before, f"moving '{name}' did not change the figure"
    assert explorer.controls["cut_frac"].disabled and explorer.controls["ratio"].disabled   # not STLR now
    explorer.controls["schedule"].value = "stlr"
    assert not explorer.controls["cut_frac"].disabled
    for name, value in (("cut_frac", 0.3), ("ratio", 8.0)):
        before = explorer.image.value
        explorer.controls[name].value = value
        assert explorer.image.value != before, name
    assert explorer.summary.value == W.lr_summary(W.explorer_table(
        base_lr=0.001, factor=1.5, schedule="stlr", cut_frac=0.3, ratio=8.0, n_groups=3, epochs=2,
        iters_per_epoch=20, gradual_unfreezing=False))
    with pytest.raises(FitlamError, match="has no control"):
        W.lr_explorer(momentum=0.9)


def test_explorers_fall_back_to_a_static_plot(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(W, "_widgets", lambda: None)
    monkeypatch.setattr(W, "_show_png", lambda png: shown.append(png))
    assert W.lr_explorer(epochs=2) is None
    assert shown and shown[0][:4] == b"\x89PNG" and "100 optimiser steps" in capsys.readouterr().out


def test_design_for_record_reproduces_the_design():
    table = design_lr_table(0.01, 2.6, "stlr", n_groups=4, epochs=5, iters_per_epoch=12, gradual_unfreezing=True,
                            stage="classifier")
    design = W.design_for_record(table, "classifier", base_lr=0.01, factor=2.6, cut_frac=0.1, ratio=32)
    np.testing.assert_allclose(design.lr, table.lr, rtol=0, atol=1e-15)
    assert design.frozen.tolist() == table.frozen.tolist()
    with pytest.raises(FitlamError, match="no stage 'lm'"):
        W.design_for_record(table, "lm", base_lr=0.01)
    with pytest.raises(FitlamError, match="give base_lr="):
        W.design_for_record(table)
    fig, ax = W.new_figure()
    W.plot_run_vs_design(table, design, ax)
    assert "designed" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "optimiser step (one batch each)"


def test_run_lr_settings_and_loading_a_shipped_record(root):
    frame, values = W.load_run_lrs(root / "models" / "general_english_fwd")
    assert set(frame.stage) == {"pretrain"}
    assert W.run_lr_settings(values, "pretrain") == {"base_lr": values["pretrain_lr"], "factor": 1.0}
    assert W.run_lr_settings({"clf_lr": 0.01, "discr_factor": 2.6}, "classifier_fwd") == {"base_lr": 0.01, "factor": 2.6}
    with pytest.raises(FitlamError, match="pass base_lr= and factor="):
        W.run_lr_settings(values, "mystery")


def test_plot_loss_curves_lines_labels_units():
    runs = {"a": pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [5.0, 4.0, 3.5], "valid_loss": [4.5, 4.0, 3.8],
                               "perplexity": np.exp([4.5, 4.0, 3.8])}),
            "b": pd.DataFrame({"epoch": [0, 1], "train_loss": [5.1, 4.9], "valid_loss": [4.9, 4.8]})}
    fig, ax = W.new_figure()
    W.plot_loss_curves(runs, ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a: train", "a: valid", "b: train", "b: valid"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.exp([5.0, 4.0, 3.5]))
    np.testing.assert_allclose(ax.lines[3].get_ydata(), np.exp([4.9, 4.8]))
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]
    assert "perplexity" in ax.get_ylabel() and ax.get_xlabel() == "epochs completed" and ax.get_yscale() == "log"
    fig, ax = W.new_figure()
    W.plot_loss_curves(runs, ax, metric="loss")
    assert "nats per token" in ax.get_ylabel()
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [4.5, 4.0, 3.8])
    with pytest.raises(FitlamError, match="no histories"):
        W.plot_loss_curves({})


@pytest.fixture
def tiny_lm():
    seed_everything(0)
    vocab = Vocab.build([[f"w{i}" for i in range(20)]], max_vocab=100, min_freq=1)
    model = awd_lstm_lm(len(vocab), load_preset("quick"))
    return model, vocab


def test_dashboard_records_batches_and_epochs(tiny_lm, capsys):
    model, vocab = tiny_lm
    rng = np.random.default_rng(0)
    docs = [rng.integers(9, len(vocab), 60) for _ in range(8)]
    learn = Learner(model, LMLoader(docs, 4, 10, seed=0), LMLoader(docs[:2], 2, 10, shuffle=False), device="cpu",
                    progress=False, lr=1e-2)
    dashboard = W.PerplexityDashboard(every=3, live=False)
    learn.fit(2, cbs=[dashboard.track("tiny")])
    assert len(dashboard.batches["tiny"]) == learn.step
    assert [x for x, _ in dashboard.epochs["tiny"]] == [0.0, 1.0, 2.0]        # before training, then each epoch
    assert dashboard.epochs["tiny"][-1][1] == pytest.approx(learn.history[-1]["valid_loss"])
    assert capsys.readouterr().out.count("tiny: epoch") == 2                  # outside a notebook: a line per epoch
    fig = dashboard.figure()
    loss_ax, ppl_ax = fig.axes[:2]
    assert ppl_ax.get_yscale() == "log" and "nats per token" in loss_ax.get_ylabel()
    assert [t.get_text() for t in ppl_ax.get_legend().get_texts()] == ["tiny: train", "tiny: valid"]
    np.testing.assert_allclose(ppl_ax.lines[1].get_ydata(), np.exp([y for _, y in dashboard.epochs["tiny"]]))


def test_dashboard_updates_one_output_in_place(monkeypatch):
    handles = []
    class Handle:
        def __init__(self): self.updates = 0
        def update(self, obj): self.updates += 1
    def fake_display(obj, display_id=False):
        handles.append(Handle()); return handles[-1]
    monkeypatch.setattr("IPython.display.display", fake_display)
    dashboard = W.PerplexityDashboard(live=True)
    dashboard.track("x")
    dashboard.batches["x"] += [(0.1, 3.0), (0.2, 2.5)]
    for _ in range(4): dashboard.show()
    assert len(handles) == 1 and handles[0].updates == 3


def test_next_token_probs(tiny_lm):
    model, vocab = tiny_lm
    full = W.next_token_probs(model, vocab, "w1 w2", k=len(vocab))
    assert full.prob.sum() == pytest.approx(1.0, abs=1e-5) and full.prob.is_monotonic_decreasing
    top = W.next_token_probs(model, vocab, "w1 w2", k=3)
    assert top.token.tolist() == full.token[:3].tolist()
    sharp = W.next_token_probs(model, vocab, "w1 w2", k=3, temperature=0.3)
    assert sharp.prob[0] > top.prob[0] and sharp.token.tolist() == top.token.tolist()
    assert model.training   # the mode is restored
    with pytest.raises(FitlamError, match="temperature must be > 0"):
        W.next_token_probs(model, vocab, "w1", temperature=0)
    samples = W.sample_continuations(model, vocab, "w1 w2", n=3, n_words=5, seed=4)
    assert len(samples) == 3 and samples == W.sample_continuations(model, vocab, "w1 w2", n=3, n_words=5, seed=4)
    fig, ax = W.new_figure()
    W.plot_next_token_probs(top, ax, "w1 w2")
    assert [t.get_text() for t in ax.get_yticklabels()] == top.token[::-1].tolist()
    assert "probability" in ax.get_xlabel()


def test_next_word_explorer_controls(tiny_lm):
    model, vocab = tiny_lm
    explorer = W.next_word_explorer(model, vocab, "w1", k=5, n_words=5)
    for name, value in (("prompt", "w3 w4"), ("k", 8), ("temperature", 0.5), ("n_words", 10)):
        before = (explorer.image.value, explorer.samples.value)
        explorer.controls[name].value = value
        assert (explorer.image.value, explorer.samples.value) != before, name
    explorer.controls["new samples"].click()
    assert "seeds 3–5" in explorer.samples.value
