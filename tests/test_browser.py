"""The widgets where learners use them: JupyterLab in a real browser.

Each test starts JupyterLab on 127.0.0.1 (a random port and token) over a temporary copy of one notebook, opens it in
headless Chromium (Debian's `chromium`, driven by Playwright with `executable_path`; `.ci/run` installs it), runs every
cell from the Run menu and then works a widget the way a learner would:

* `32_widgets.ipynb`: moves the `epochs` slider of the learning-rate explorer with the keyboard and checks that the
  plotted data (the summary line) and the rendered figure changed as the formula says;
* `11_interpret.ipynb`: switches the attention explorer's method, picks another review, types one, and checks that
  the coloured HTML follows: its title names the method and the review, its tokens are the text in the box, the
  predicted label and probability and the legend are there, and the colours run from white to the darkest blue.

Both fail on any error in the browser console and any traceback in an output. Screenshots go to
`tests/artifacts/browser/<notebook>/` (git-ignored). Skipped, saying why, only where Chromium or Playwright is missing.
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
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"   # only these tests' screenshots, one folder per notebook
TIMEOUT_MS = 120_000   # one widget round trip (browser → kernel → browser) on a busy 2-core CI machine: generous


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


Lab = namedtuple("Lab", "url token notebook folder")


@pytest.fixture
def lab(request, tmp_path):
    """A JupyterLab server on 127.0.0.1 over a copy of the notebook the test names (parametrize "lab" with
    indirect=True): yields a `Lab`; always stopped."""
    notebook = request.param
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(ROOT / "nbs" / notebook, root / notebook)   # a copy: autosave must never touch nbs/
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
        yield Lab(url, token, notebook, tmp_path)
    finally:
        try: os.killpg(server.pid, signal.SIGTERM)   # the server and the kernels it started (their own session)
        except ProcessLookupError: pass
        try: server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL); server.wait()
        log.close()


TRACEBACKS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(e => e.textContent.includes('Traceback (most recent call last)')).map(e => e.textContent.slice(-1500))"""

ALL_DONE = """() => {
  const errors = (""" + TRACEBACKS + """)();
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


def artifacts_for(name: str) -> Path:
    "An empty screenshot folder for one test (tests may run side by side under xdist: each clears only its own)."
    folder = ARTIFACTS / name
    if folder.exists(): shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


@contextmanager
def notebook_in_browser(lab: Lab, artifacts: Path):
    """Open the lab's notebook in headless Chromium, run all its cells and wait until every one has run; yields the
    page. Screenshots the page after Run All (and on any failure); fails on a traceback in an output at the end and on
    any error the browser console logged."""
    console_errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda m: console_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(f"page error: {e}"))
            page.goto(f"{lab.url}/lab/tree/{lab.notebook}?token={lab.token}", timeout=180_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=180_000)
            wait_for_idle_kernel(lab.url, lab.token)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            handle = page.wait_for_function(ALL_DONE, timeout=900_000, polling=1000)  # generous: 2 busy cores
            page.screenshot(path=artifacts / "01_notebook_after_run_all.png")
            assert handle.json_value() == "done", ("a cell raised an error in the browser; see the screenshot:\n"
                                                   + "\n".join(page.evaluate(TRACEBACKS)))
            yield page
            tracebacks = page.evaluate(TRACEBACKS)   # a widget callback that raised prints into its cell's output
            assert not tracebacks, "a traceback in an output after using the widget:\n" + "\n".join(tracebacks)
        except Exception:
            if page is not None: page.screenshot(path=artifacts / "99_failure.png")
            raise
        finally:
            browser.close()
    assert not console_errors, "errors in the browser console:\n" + "\n".join(console_errors)


@pytest.mark.parametrize("lab", ["32_widgets.ipynb"], indirect=True)
def test_lr_explorer_in_jupyterlab(lab):
    artifacts = artifacts_for("32_widgets")
    with notebook_in_browser(lab, artifacts) as page:
        explorer = page.locator(".fitlam-lr-explorer").first
        explorer.scroll_into_view_if_needed()
        plot, summary = explorer.locator(".fitlam-lr-plot"), explorer.locator(".fitlam-lr-summary")
        plot.wait_for(state="visible", timeout=60_000)
        before_text = summary.inner_text()
        before_png = plot.screenshot(path=artifacts / "02_lr_explorer_plot_before.png")
        explorer.screenshot(path=artifacts / "03_lr_explorer_before.png")
        assert "300 optimiser steps" in before_text, before_text   # 6 epochs x 50 iterations

        slider = explorer.locator(".widget-slider").filter(
            has=page.locator("label", has_text=re.compile(r"^\s*epochs\s*$")))
        handle_el = slider.locator(".noUi-handle").first
        handle_el.focus()
        handle_el.press("ArrowRight")
        handle_el.press("ArrowRight")
        # two steps right: 6 → 8 epochs, so 8 x 50 steps — the formula, not just "something changed"
        page.wait_for_function("el => el.textContent.includes('400 optimiser steps')",
                               arg=summary.element_handle(), timeout=TIMEOUT_MS)
        after_text = summary.inner_text()
        assert after_text != before_text
        page.wait_for_timeout(500)   # let the browser decode and paint the new PNG before the screenshot
        after_png = plot.screenshot(path=artifacts / "04_lr_explorer_plot_after.png")
        explorer.screenshot(path=artifacts / "05_lr_explorer_after.png")
        assert after_png != before_png, "the figure did not change when the epochs slider moved"

        for selector, name in ((".fitlam-next-word", "06_next_word_explorer.png"),):
            widget = page.locator(selector).first
            widget.scroll_into_view_if_needed()
            widget.screenshot(path=artifacts / name)
        page.screenshot(path=artifacts / "07_full_page_end.png", full_page=True)


# What the attention HTML shows, read from the page: its title, predicted line, legend, and every token's text, score
# (its tooltip) and colours.
ATTENTION_VIEW = """el => ({
  text: el.innerText,
  tokens: [...el.querySelectorAll('span[title]')].map(s => ({
      token: s.textContent, title: s.title,
      background: getComputedStyle(s).backgroundColor, ink: getComputedStyle(s).color})),
})"""
DARKEST = ("rgb(8, 48, 107)", "rgb(255, 255, 255)")   # the top of the Blues scale, with white text on it
LIGHTEST = "rgb(247, 251, 255)"
LEGENDS = {"intrinsic attention": "intrinsic attention: |∂p(predicted)/∂embedding|",
           "concat pooling": "share of the max-pooled features the token wins"}


def attention_view_after(view, page, title: str) -> dict:
    "Wait until the explorer's HTML carries `title` (the kernel has answered), then read it."
    page.wait_for_function("([el, title]) => el.innerText.includes(title)", arg=[view.element_handle(), title],
                           timeout=TIMEOUT_MS)
    return view.evaluate(ATTENTION_VIEW)


def pick_review(select, textarea, page, number: int) -> str:
    "Choose review `number` (from 1) in the dropdown and wait until the box holds it (its label's start); -> that text."
    select.select_option(index=number - 1)
    # the label is "N: the first 70 characters…", spaces as no-break spaces (ipywidgets keeps them that way)
    label = select.evaluate(f"s => s.options[{number - 1}].textContent").replace("\u00a0", " ")
    assert label.startswith(f"{number}: "), label
    page.wait_for_function("([box, start]) => box.value.startsWith(start)", timeout=TIMEOUT_MS,
                           arg=[textarea.element_handle(), label[len(f"{number}: "):].rstrip("…")])
    return textarea.input_value()


def check_attention_view(shown: dict, method: str, text: str):
    "The HTML explains `text` with `method`: title, predicted label and probability, legend, coloured tokens."
    from fitlam.fast_tokenize import tokenize   # the tokens the model reads (imports torch: only when this test runs)
    assert re.search(r"predicted: \S+ \(probability (0\.\d\d|1\.00)\)", shown["text"]), shown["text"][:300]
    assert LEGENDS[method] in shown["text"], f"the legend does not name {method}: {shown['text'][-400:]}"
    assert "white = none, darkest = the most" in shown["text"]
    assert [t["token"] for t in shown["tokens"]] == tokenize(text), "the coloured tokens are not the text in the box"
    colours = {(t["background"], t["ink"]) for t in shown["tokens"]}
    assert DARKEST in colours, f"no token on the darkest blue with white text: {sorted(colours)[:5]}"
    assert any(background != DARKEST[0] for background, _ in colours), "every token has the same colour"


@pytest.mark.parametrize("lab", ["11_interpret.ipynb"], indirect=True)
def test_attention_explorer_in_jupyterlab(lab):
    artifacts = artifacts_for("11_interpret")
    with notebook_in_browser(lab, artifacts) as page:
        explorer = page.locator(".fitlam-attention-explorer").first
        explorer.scroll_into_view_if_needed()
        view, select, textarea = (explorer.locator(".fitlam-attention-view"), explorer.locator("select"),
                                  explorer.locator("textarea"))
        view.wait_for(state="visible", timeout=60_000)

        # where the notebook left it: read the method and the review from the controls, not from the notebook
        method = explorer.locator(".widget-toggle-button.mod-active").inner_text().strip()
        review = select.evaluate("s => s.selectedIndex") + 1
        assert method in LEGENDS and review >= 1, (method, review)
        before = attention_view_after(view, page, f"{method} · review {review}")
        check_attention_view(before, method, textarea.input_value())
        view.screenshot(path=artifacts / "02_attention_before.png")
        explorer.screenshot(path=artifacts / "03_explorer_before.png")

        # 1. the other method: same review, same tokens, other scores and legend
        other = next(m for m in LEGENDS if m != method)
        explorer.get_by_role("button", name=other, exact=True).click()
        switched = attention_view_after(view, page, f"{other} · review {review}")
        check_attention_view(switched, other, textarea.input_value())
        assert [t["title"] for t in switched["tokens"]] != [t["title"] for t in before["tokens"]], \
            "the scores did not change with the method"
        view.screenshot(path=artifacts / "04_attention_other_method.png")

        # 2. another review from the dropdown: the box and the coloured tokens are that review
        n_reviews = select.evaluate("s => s.options.length")
        assert n_reviews >= 2, n_reviews
        picked = 1 if review != 1 else 2
        text = pick_review(select, textarea, page, picked)
        shown = attention_view_after(view, page, f"{other} · review {picked}")
        check_attention_view(shown, other, text)
        view.screenshot(path=artifacts / "05_attention_other_review.png")
        explorer.screenshot(path=artifacts / "06_explorer_after.png")

        # 3. a review of your own: typed, explained when the box loses focus; the dropdown lets go of its review
        own = "A wonderful cast, but the plot was boring and the ending a waste of time."
        textarea.fill(own)
        textarea.press("Tab")
        shown = attention_view_after(view, page, f"{other} · your text")
        check_attention_view(shown, other, own)
        assert select.evaluate("s => s.selectedIndex") == -1, "the dropdown still names a review after typing"
        view.screenshot(path=artifacts / "07_attention_typed.png")

        # 4. ... so picking the same review again brings it back
        assert pick_review(select, textarea, page, picked) == text
        shown = attention_view_after(view, page, f"{other} · review {picked}")
        check_attention_view(shown, other, text)
