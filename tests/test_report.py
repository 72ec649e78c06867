"""The run report: one self-contained HTML page with every section, built from a run folder's files — checked as
text, rebuilt by `fitlam report`, and opened in headless Chromium (no network) where Chromium is installed."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fitlam.core import FitlamError, load_preset
from fitlam.pipeline import run_fitlam, user_task
from fitlam.report import SECTIONS, write_report

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
