"""The run report: one self-contained HTML page with every section, built from a run folder's files — checked as
text, rebuilt by `fitlam report`, and opened in headless Chromium (no network) where Chromium is installed. Every
chart is checked on what it draws: the values read back from its matplotlib artists are the numbers of
metrics.json, history.csv, lr_history.csv and predictions.csv (run folders made of numbers alone, and a real run)."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitlam.core import FitlamError, load_preset
from fitlam.pipeline import run_fitlam, user_task
from fitlam.report import SECTIONS, confusion_figure, curves_figure, lr_figure, read_run, report_html, write_report
from fitlam.schedules import LRRecord

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FITLAM = str(Path(sys.executable).parent / "fitlam")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    "A finished forward + backward quick run on a three-class task the kit has never seen."
    d = tmp_path_factory.mktemp("report")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lms" / "fwd"); toy_lm(d / "lms" / "bwd", backwards=True)
    task = user_task(d / "sentences.csv", text_col="sentence", label_col="verdict")
    run_fitlam(load_preset("quick"), out=d / "run", task=task, pretrained=d / "lms", progress=False,
               task_info={"data": "sentences.csv", "text_col": "sentence", "label_col": "verdict"})
    write_report(d / "run")
    return d / "run"


def test_report_has_every_section(run_dir):
    page = (run_dir / "report.html").read_text()
    for key, title, _ in SECTIONS: assert f'<section id="{key}">' in page, key
    assert "could not be drawn" not in page
    # summary: every model and the baseline, with the numbers of metrics.json
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for tag in ("fwd", "bwd", "ensemble", "baseline"):
        assert f"{metrics[tag]['test']['accuracy']:.4f}" in page, tag
    assert "TF-IDF + logistic regression (baseline)" in page and "finetune_lm_bwd" in page
    # the plots (learning rates, curves, confusion) are PNGs inside the page
    assert page.count('src="data:image/png;base64,') == 3
    # attention: right and wrong documents, coloured token by token
    assert "got right</h3>" in page and "got wrong</h3>" in page
    assert page.count("true label:") >= 2 and "background-color:#" in page


def test_report_is_self_contained(run_dir):
    page = (run_dir / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page), "a link to another file or a URL"
    assert "http://" not in page and "https://" not in page and "@import" not in page and "url(" not in page


def test_fitlam_report_rebuilds_it(run_dir):
    (run_dir / "report.html").unlink()
    done = subprocess.run([FITLAM, "report", str(run_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run_dir / "report.html").is_file() and "report.html" in done.stdout


def test_report_needs_a_finished_run(run_dir, tmp_path):
    shutil.copytree(run_dir, tmp_path / "unfinished")
    (tmp_path / "unfinished" / "metrics.json").unlink()
    with pytest.raises(FitlamError, match="not a finished fitlam run"): write_report(tmp_path / "unfinished")


def chromium_path():
    for candidate in (os.environ.get("FITLAM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file(): return candidate
    return None


def test_report_opens_in_a_browser(run_dir):
    "Every section visible and every picture decoded in headless Chromium, with all network access refused."
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if chromium_path() is None: pytest.skip("Chromium is not installed: apt-get install chromium")
    requests, errors = [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(re.compile(r"^(?!file:|data:).*"), lambda route: route.abort())
        page.goto((run_dir / "report.html").as_uri())
        for key, title, _ in SECTIONS:
            assert page.locator(f"section#{key} h2").is_visible(), key
        images = page.locator("img")
        assert images.count() == 3
        for i in range(images.count()):
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100"), f"image {i} not drawn"
        assert page.locator("section#attention span[title]").count() > 10   # the coloured tokens
        artifacts = ROOT / "tests" / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "report.png"), full_page=True)
        browser.close()
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert not errors, errors


# --- what the charts draw -------------------------------------------------------------------------------------------

def lines_by_label(ax) -> dict:
    "The labelled lines of `ax` as {label: [[x, y], ...]}."
    return {line.get_label(): line.get_xydata().tolist() for line in ax.lines if not line.get_label().startswith("_")}


def assert_drawn_within_axis(ax):
    "Every drawn point lies inside the axis limits (nothing is off the chart, nothing is drawn on another scale)."
    ys = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.lines
                         if line.get_transform() == ax.transData and len(line.get_xdata())])   # (not axvline's)
    lo, hi = ax.get_ylim()
    ys = ys[np.isfinite(ys)]
    assert lo <= ys.min() and ys.max() <= hi, (lo, hi, ys.min(), ys.max())


def assert_curves_show_the_files(folder: Path):
    """The curves chart of a run folder against its files, read here on their own: each LM stage's validation
    perplexity and exp(train loss) per epoch, the perplexity before fine-tuning at epoch 0 (a star, with a dotted
    line to epoch 1, only where metrics.json has it), the last epoch = metrics.json's perplexity after fine-tuning,
    and each classifier's train and valid loss."""
    history = pd.read_csv(folder / "history.csv")
    metrics = json.loads((folder / "metrics.json").read_text())
    fig = curves_figure(read_run(folder))
    lm_rows = history[~history.stage.str.startswith("classifier")]
    clf_rows = history[history.stage.str.startswith("classifier")]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == (len(lm_rows) > 0) + (len(clf_rows) > 0)
    lm_ax = axes[0]
    drawn = lines_by_label(lm_ax)
    assert lm_ax.get_yscale() == "log" and "perplexity" in lm_ax.get_ylabel()
    for stage, rows in lm_rows.groupby("stage", sort=False):
        epochs = (rows.epoch + 1).tolist()
        np.testing.assert_allclose(drawn[f"{stage}: valid"], np.c_[epochs, rows.perplexity], rtol=1e-12)
        np.testing.assert_allclose(drawn[f"{stage}: train"], np.c_[epochs, np.exp(rows.train_loss)], rtol=1e-12)
    for tag in ("fwd", "bwd"):
        stage = f"finetune_lm_{tag}"
        if tag not in metrics:
            assert not any(label.startswith(stage) for label in drawn), stage
            continue
        tuned = metrics[tag]["finetune_lm"]
        assert drawn[f"{stage}: valid"][-1][1] == pytest.approx(tuned["valid_perplexity"], rel=1e-6)
        star = [line for line in lm_ax.lines if line.get_label() == f"{stage}: before fine-tuning"]
        valid = next(line for line in lm_ax.lines if line.get_label() == f"{stage}: valid")
        dotted = [line for line in lm_ax.lines if line.get_linestyle() == ":" and line.get_color() == valid.get_color()]
        if "valid_perplexity_before" in tuned:
            before = tuned["valid_perplexity_before"]
            assert star[0].get_xydata().tolist() == [[0, before]] and star[0].get_color() == valid.get_color()
            first = drawn[f"{stage}: valid"][0]
            assert dotted[0].get_xydata().tolist() == [[0, before], first]
        else:
            assert not star and not dotted
    assert_drawn_within_axis(lm_ax)
    # the numbers written on the chart: each curve's last validation value (and its value before fine-tuning)
    notes = {tuple(map(float, note.xy)): note.get_text() for note in lm_ax.texts}
    for stage in lm_rows.stage.unique():
        x, y = drawn[f"{stage}: valid"][-1]
        assert notes[(x, y)] == f"{y:.1f}", stage
    for stage, before in {label.split(":")[0]: xy[0][1] for label, xy in drawn.items() if "before" in label}.items():
        assert notes[(0.0, before)] == f"{before:.1f}", stage
    if len(clf_rows):
        clf_drawn = lines_by_label(axes[-1])
        notes = {tuple(map(float, note.xy)): note.get_text() for note in axes[-1].texts}
        for stage, rows in clf_rows.groupby("stage", sort=False):
            epochs = (rows.epoch + 1).tolist()
            np.testing.assert_allclose(clf_drawn[f"{stage}: train"], np.c_[epochs, rows.train_loss], rtol=1e-12)
            np.testing.assert_allclose(clf_drawn[f"{stage}: valid"], np.c_[epochs, rows.valid_loss], rtol=1e-12)
            assert notes[(epochs[-1], rows.valid_loss.iloc[-1])] == f"{rows.valid_loss.iloc[-1]:.4f}", stage
        assert_drawn_within_axis(axes[-1])


def numbers_only_run(folder: Path, tags=("fwd", "bwd"), lm_epochs: int = 1, clf_epochs: int = 3,
                     before: bool = True) -> Path:
    """A run folder of numbers alone — metrics.json and history.csv shaped as the pipeline writes them, no model.
    With one LM epoch and both directions it holds the demo run's numbers (fwd 167.8 → 88.1, bwd 159.2 → 88.9)."""
    folder.mkdir(parents=True)
    demo = {"fwd": (167.8, 88.1), "bwd": (159.2, 88.9)}
    metrics, rows = {"preset": "demo", "classes": ["neg", "pos"]}, []
    for tag in tags:
        start, end = demo[tag]
        ppl = np.geomspace(start * 0.75, end, lm_epochs) if lm_epochs > 1 else np.array([end])
        for epoch, p in enumerate(ppl):
            rows.append({"stage": f"finetune_lm_{tag}", "epoch": epoch, "train_loss": math.log(p * 1.4),
                         "valid_loss": math.log(p), "accuracy": 0.21, "perplexity": p, "time": 30.0})
        tuned = {"valid_perplexity": float(ppl[-1]), "valid_loss": math.log(ppl[-1]), "epochs": lm_epochs}
        if before: tuned["valid_perplexity_before"] = start
        metrics[tag] = {"pretrained": "ours", "finetune_lm": tuned,
                        "test": {"accuracy": 0.7, "macro_f1": 0.7, "n_test": 100}}
    for tag in tags:   # classifier rows have no perplexity: blank cells in history.csv
        for epoch in range(clf_epochs):
            rows.append({"stage": f"classifier_{tag}", "epoch": epoch, "train_loss": 0.69 - 0.05 * epoch,
                         "valid_loss": 0.66 - 0.04 * epoch, "accuracy": 0.6 + 0.03 * epoch, "time": 5.0})
    pd.DataFrame(rows).to_csv(folder / "history.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return folder


@pytest.mark.parametrize("tags,lm_epochs,before", [
    (("fwd", "bwd"), 1, True),    # the demo run: one epoch of LM fine-tuning, both directions
    (("fwd", "bwd"), 4, True),
    (("fwd",), 3, False),
    (("bwd",), 1, True),
    (("bwd",), 5, False),
])
def test_curves_draw_the_numbers_of_the_run_files(tmp_path, tags, lm_epochs, before):
    folder = numbers_only_run(tmp_path / "run", tags, lm_epochs, before=before)
    assert_curves_show_the_files(folder)
    page = report_html(read_run(folder))   # and the page around it is drawn, sections without tables say so
    assert "could not be drawn" not in page and "has no lr_history.csv" in page


def test_demo_perplexities_are_drawn_where_they_are(tmp_path):
    "The report's bug, seen as a reader would: the demo's one-epoch perplexities sit at 88, not at ≈ 1."
    fig = curves_figure(read_run(numbers_only_run(tmp_path / "run")))
    drawn = lines_by_label(fig.axes[0])
    assert drawn["finetune_lm_fwd: valid"] == [[1, 88.1]] and drawn["finetune_lm_bwd: valid"] == [[1, 88.9]]
    assert drawn["finetune_lm_fwd: before fine-tuning"] == [[0, 167.8]]
    assert drawn["finetune_lm_bwd: before fine-tuning"] == [[0, 159.2]]


def test_charts_of_a_real_run_show_its_files(run_dir):
    "The real forward + backward run: curves, every learning-rate panel and the confusion matrices against its files."
    assert_curves_show_the_files(run_dir)
    # learning rates: one panel per stage; per layer group, the rate of every step (frozen steps on a dashed line)
    record = LRRecord.from_csv(run_dir / "lr_history.csv").to_frame()
    panels = [ax for ax in lr_figure(read_run(run_dir)).axes if ax.get_visible()]
    stages = list(dict.fromkeys(record.stage))
    assert [ax.get_title() for ax in panels] == stages
    for ax, stage in zip(panels, stages):
        rows = record[record.stage == stage]
        for group, lrs in rows.groupby("group"):
            solid = next(line for line in ax.lines if line.get_label().startswith(f"group {group} "))
            dashed = [line for line in ax.lines if line.get_linestyle() == "--" and line.get_color() == solid.get_color()
                      and len(line.get_xdata()) == len(lrs)]
            assert solid.get_xdata().tolist() == lrs.step.tolist(), (stage, group)
            np.testing.assert_allclose(solid.get_ydata().astype(float), lrs.lr.where(~lrs.frozen), rtol=1e-12)
            np.testing.assert_allclose(dashed[0].get_ydata().astype(float), lrs.lr.where(lrs.frozen), rtol=1e-12)
        assert_drawn_within_axis(ax)
    # confusion matrices: the ensemble and the baseline, counted here from predictions.csv; accuracy = metrics.json
    table = pd.read_csv(run_dir / "predictions.csv", dtype=str, keep_default_na=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    classes = metrics["classes"]
    axes = confusion_figure(read_run(run_dir)).axes
    for ax, tag in zip(axes, ("ensemble", "baseline")):
        counts = pd.crosstab(table.label, table[f"pred_{tag}"]).reindex(index=classes, columns=classes, fill_value=0)
        assert ax.images[0].get_array().tolist() == counts.to_numpy().tolist(), tag
        assert [t.get_text() for t in ax.texts] == [f"{n:,}" for n in counts.to_numpy().ravel()]
        assert [t.get_text() for t in ax.get_yticklabels()] == classes
        assert ax.get_title().endswith(f"accuracy {metrics[tag]['test']['accuracy']:.3f}"), tag
    assert len(axes) == 2
