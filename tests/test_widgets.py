"""fitlam.widgets without a browser: moving a control changes the plotted data as the formula says, a real record
lines up with its design, loss curves carry units and legends, the live dashboard records every batch and epoch,
and the next-word functions give probabilities. Every chart is checked on what it draws: the values read back from
its matplotlib artists are the numbers of the table, history or record it shows."""
import io
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


def drawn_lrs(ax, n_groups: int) -> dict:
    "Per layer group: (steps, lr of the trained steps, lr of the frozen steps) as drawn by plot_lrs."
    out = {}
    for group in range(n_groups):
        solid = next(line for line in ax.lines if line.get_label().startswith(f"group {group} "))
        dashed = next(line for line in ax.lines if line.get_linestyle() == "--" and line.get_color() == solid.get_color()
                      and len(line.get_xdata()) == len(solid.get_xdata()))
        out[group] = (np.asarray(solid.get_xdata()), np.asarray(solid.get_ydata(), float),
                      np.asarray(dashed.get_ydata(), float))
    return out


def test_the_explorer_plot_draws_its_table():
    table = W.explorer_table(n_groups=4, epochs=3, iters_per_epoch=20, gradual_unfreezing=True)
    fig, ax = W.new_figure()
    W.plot_lr_design(table, ax)
    for group, (steps, trained, frozen) in drawn_lrs(ax, 4).items():
        rows = table[table.group == group].sort_values("step")
        assert steps.tolist() == rows.step.tolist()
        np.testing.assert_array_equal(trained, rows.lr.where(~rows.frozen))   # NaN where frozen: a gap in the line
        np.testing.assert_array_equal(frozen, rows.lr.where(rows.frozen))
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] <= table.lr.min() and table.lr.max() <= ax.get_ylim()[1]


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
    record = table.assign(lr=table.lr * np.where(table.step % 2, 0.9, 1.1))   # a record that strays from the design
    W.plot_run_vs_design(record, design, ax)
    assert "designed" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "optimiser step (one batch each)"
    thick = [line for line in ax.lines if line.get_linewidth() == 6 and len(line.get_xdata())]
    for group, rows in design.groupby("group"):   # thick, faint: the design; thin: what the record holds
        assert thick[group].get_xdata().tolist() == rows.step.tolist()
        np.testing.assert_array_equal(thick[group].get_ydata(), rows.lr)
    for group, (steps, trained, frozen) in drawn_lrs(ax, 4).items():
        rows = record[record.group == group].sort_values("step")
        assert steps.tolist() == rows.step.tolist()
        np.testing.assert_array_equal(trained, rows.lr.where(~rows.frozen))
        np.testing.assert_array_equal(frozen, rows.lr.where(rows.frozen))


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


def test_loss_curves_of_a_history_csv_with_blank_cells():
    "history.csv as a run writes it (classifier rows have no perplexity), read back as text: numbers are drawn."
    frame = pd.DataFrame({"stage": ["finetune_lm_fwd"] * 3 + ["classifier_fwd"] * 2, "epoch": [0, 1, 2, 0, 1],
                          "train_loss": [5.0, 4.6, 4.4, 0.7, 0.6], "valid_loss": np.log([95.0, 90.0, 88.1, 2.0, 1.8]),
                          "perplexity": [95.0, 90.0, 88.1, None, None]})
    text = pd.read_csv(io.StringIO(frame.to_csv(index=False)), keep_default_na=False)
    lm = {"finetune_lm_fwd": text[text.stage == "finetune_lm_fwd"]}
    fig, ax = W.new_figure()
    W.plot_loss_curves(lm, ax, start={"finetune_lm_fwd": 167.8})
    drawn = {line.get_label(): line.get_xydata().tolist() for line in ax.lines}
    assert drawn["finetune_lm_fwd: valid"] == [[1, 95.0], [2, 90.0], [3, 88.1]]
    np.testing.assert_allclose(drawn["finetune_lm_fwd: train"], np.c_[[1, 2, 3], np.exp([5.0, 4.6, 4.4])])
    assert drawn["finetune_lm_fwd: before training"] == [[0, 167.8]]
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(dotted) == 1 and dotted[0].get_xydata().tolist() == [[0, 167.8], [1, 95.0]]
    lo, hi = ax.get_ylim()
    assert lo <= 88.1 and 167.8 <= hi
    fig, ax = W.new_figure()
    W.plot_loss_curves({"classifier_fwd": text[text.stage == "classifier_fwd"]}, ax, metric="loss")
    drawn = {line.get_label(): line.get_xydata().tolist() for line in ax.lines}
    np.testing.assert_allclose(drawn["classifier_fwd: valid"], np.c_[[1, 2], np.log([2.0, 1.8])])
    assert drawn["classifier_fwd: train"] == [[1, 0.7], [2, 0.6]]


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
    # what is drawn: the batches' moving average (train) and the validation losses (valid), against epochs
    x, y = np.array(dashboard.batches["tiny"]).T
    smooth = pd.Series(y).rolling(3, min_periods=1).mean().to_numpy()
    assert [line.get_label() for line in loss_ax.lines] == ["tiny: train", "tiny: valid"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), x)
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), smooth, rtol=1e-12)
    np.testing.assert_allclose(ppl_ax.lines[0].get_ydata(), np.exp(smooth), rtol=1e-12)
    assert 0 < x[0] < 1 and (np.diff(x) > 0).all()                     # batches at fractional epochs ...
    assert x[np.isclose(x, np.round(x))].tolist() == [1.0, 2.0]       # ... each epoch's last batch at its end
    np.testing.assert_allclose(loss_ax.lines[1].get_xydata(), [[0.0, dashboard.epochs["tiny"][0][1]]]
                               + [[e + 1, r["valid_loss"]] for e, r in enumerate(learn.history)], rtol=1e-12)


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
    bars = ax.patches   # the likeliest token on top: bar i (from the bottom) is row k-1-i of the table
    np.testing.assert_allclose([bar.get_width() for bar in bars], top.prob[::-1], rtol=1e-7)
    assert [bar.get_y() + bar.get_height() / 2 for bar in bars] == pytest.approx(list(range(len(top))))
    assert [t.get_text() for t in ax.texts] == [f"{p:.3f}" for p in top.prob[::-1]]
    assert ax.get_xlim()[1] >= top.prob.max()


def test_next_word_explorer_controls(tiny_lm):
    model, vocab = tiny_lm
    explorer = W.next_word_explorer(model, vocab, "w1", k=5, n_words=5)
    for name, value in (("prompt", "w3 w4"), ("k", 8), ("temperature", 0.5), ("n_words", 10)):
        before = (explorer.image.value, explorer.samples.value)
        explorer.controls[name].value = value
        assert (explorer.image.value, explorer.samples.value) != before, name
    explorer.controls["new samples"].click()
    assert "seeds 3–5" in explorer.samples.value
