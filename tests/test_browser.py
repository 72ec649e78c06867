"""The widgets where learners use them: JupyterLab in a real browser.

Starts JupyterLab on 127.0.0.1 (a random port and token) over a temporary copy of `nbs/12_widgets.ipynb`, opens it
in headless Chromium (Debian's `chromium`, driven by Playwright with `executable_path`; `.ci/run` installs it), runs
every cell from the Run menu, moves the `epochs` slider of the learning-rate explorer with the keyboard, and checks
that the plotted data (the summary line) and the rendered figure changed as the formula says — with no errors in the
browser console and no traceback in any output. Screenshots go to `tests/artifacts/browser/` (git-ignored).

Skipped, saying why, only where Chromium or Playwright is missing.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"   # only this test's screenshots
NOTEBOOK = "12_widgets.ipynb"


def chromium_path():
    "Debian's chromium (or one named by FITLAM_CHROMIUM); Playwright can't download browsers offline."
    for candidate in (os.environ.get("FITLAM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file(): return candidate
    return None


sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="Chromium is not installed: apt-get install chromium (.ci/run does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(folder: Path):
    "Every cell in the DOM (no virtual scrolling), no news or update checks (offline, and no popups)."
    settings = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
                "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                    {"fetchNews": "false", "checkForUpdates": False}}
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on 127.0.0.1 over a copy of the widget notebook: yields (base url, token); always stopped."
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(ROOT / "nbs" / NOTEBOOK, root / NOTEBOOK)   # a copy: autosave must never touch nbs/
    write_lab_settings(tmp_path / "lab-settings")
    port, token = free_port(), secrets.token_hex(24)
    env = {**os.environ, "FITLAM_PRESET": os.environ.get("FITLAM_PRESET", "quick"), "FITLAM_HOME": str(tmp_path / "home"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if os.geteuid() == 0 else [])],   # CI runs as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as answer:
                    if answer.status == 200: break
            except OSError:
                pass
            if time.time() > deadline: pytest.fail("JupyterLab did not answer within 180 s")
            time.sleep(0.5)   # polling a server that is starting: nothing to wait_for yet
        yield url, token, tmp_path
    finally:
        try: os.killpg(server.pid, signal.SIGTERM)   # the server and the kernels it started (their own session)
        except ProcessLookupError: pass
        try: server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL); server.wait()
        log.close()


ALL_DONE = """() => {
  const errors = [...document.querySelectorAll('.jp-OutputArea-output')]
      .filter(e => e.textContent.includes('Traceback (most recent call last)'));
  if (errors.length) return 'error';
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
  return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t)) ? 'done' : false;
}"""


def wait_for_idle_kernel(url, token, timeout=300):
    "Poll the server's session list until the notebook's kernel has started and is idle."
    deadline = time.time() + timeout
    while time.time() < deadline:
        with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10) as answer:
            sessions = json.load(answer)
        if any(s["kernel"] and s["kernel"].get("execution_state") == "idle" for s in sessions): return
        time.sleep(0.5)   # the kernel is starting in another process: nothing in the page to wait_for
    pytest.fail(f"the notebook's kernel was not idle within {timeout} s")


def test_lr_explorer_in_jupyterlab(lab):
    url, token, tmp_path = lab
    if ARTIFACTS.exists(): shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    console_errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: console_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(f"page error: {e}"))
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}", timeout=180_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=180_000)
            wait_for_idle_kernel(url, token)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            handle = page.wait_for_function(ALL_DONE, timeout=900_000, polling=1000)  # generous: 2 busy cores
            page.screenshot(path=ARTIFACTS / "01_notebook_after_run_all.png")
            assert handle.json_value() == "done", "a cell raised an error in the browser; see the screenshot"

            explorer = page.locator(".fitlam-lr-explorer").first
            explorer.scroll_into_view_if_needed()
            plot, summary = explorer.locator(".fitlam-lr-plot"), explorer.locator(".fitlam-lr-summary")
            plot.wait_for(state="visible", timeout=60_000)
            before_text = summary.inner_text()
            before_png = plot.screenshot(path=ARTIFACTS / "02_lr_explorer_plot_before.png")
            explorer.screenshot(path=ARTIFACTS / "03_lr_explorer_before.png")
            assert "300 optimiser steps" in before_text, before_text   # 6 epochs x 50 iterations

            slider = explorer.locator(".widget-slider").filter(
                has=page.locator("label", has_text=re.compile(r"^\s*epochs\s*$")))
            handle_el = slider.locator(".noUi-handle").first
            handle_el.focus()
            handle_el.press("ArrowRight")
            handle_el.press("ArrowRight")
            # two steps right: 6 → 8 epochs, so 8 x 50 steps — the formula, not just "something changed"
            page.wait_for_function("el => el.textContent.includes('400 optimiser steps')",
                                   arg=summary.element_handle(), timeout=120_000)
            after_text = summary.inner_text()
            assert after_text != before_text
            page.wait_for_timeout(500)   # let the browser decode and paint the new PNG before the screenshot
            after_png = plot.screenshot(path=ARTIFACTS / "04_lr_explorer_plot_after.png")
            explorer.screenshot(path=ARTIFACTS / "05_lr_explorer_after.png")
            assert after_png != before_png, "the figure did not change when the epochs slider moved"

            for selector, name in ((".fitlam-next-word", "06_next_word_explorer.png"),):
                widget = page.locator(selector).first
                widget.scroll_into_view_if_needed()
                widget.screenshot(path=ARTIFACTS / name)
            page.screenshot(path=ARTIFACTS / "07_full_page_end.png", full_page=True)
        except Exception:
            if page is not None: page.screenshot(path=ARTIFACTS / "99_failure.png")
            raise
        finally:
            browser.close()
    assert not console_errors, "errors in the browser console:\n" + "\n".join(console_errors)
