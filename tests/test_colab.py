"""Where the kit comes from: `FITLAM_REPO` (fitlam.colab) is the one place that names it. The README's Colab badge,
pyproject's URL and every notebook's Colab set-up cell are made from it and agree with it; `point_kit_at` moves them
all to a fork; and the set-up cell, run as Colab runs it (IPython, with COLAB_RELEASE_TAG set) against local git
repositories and folders, clones, uses an uploaded copy, or stops with one sentence when it cannot get the kit."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fitlam.colab import FITLAM_REPO, colab_badge, colab_setup_source, point_kit_at

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))
# nbs/06–10 were outside the change that introduced FITLAM_REPO: their set-up cell is still the old one (a hard-coded
# `git clone`). `make colab` (point_kit_at) rewrites them; then this list must be emptied (strict xfail says so).
OLD_SET_UP_CELL: set[str] = set()


def set_up_cell(path: Path) -> str:
    "The first code cell of a notebook that looks for Colab."
    cells = json.loads(path.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and "COLAB_RELEASE_TAG" in "".join(c["source"]))


@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason="old set-up cell: run `make colab`")]
                 if p.name in OLD_SET_UP_CELL else []) for p in NOTEBOOKS])
def test_every_notebook_starts_with_the_generated_set_up_cell(path):
    assert set_up_cell(path) == colab_setup_source()


def test_readme_badge_and_project_url_come_from_fitlam_repo():
    readme = (ROOT / "README.md").read_text()
    badges = [line for line in readme.splitlines() if line.startswith("[![Open In Colab]")]
    assert badges == [colab_badge()]
    assert re.search(r'^Repository = "(.*)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1] == FITLAM_REPO
    start = readme.index("**Colab:**")
    colab = readme[start:readme.index("\n## ", start)]
    for words in ("FITLAM_REPO", "make colab REPO=", "fork", "upload", "Drive", "%env FITLAM_REPO="):
        assert words in colab, words


def test_the_kit_address_is_written_nowhere_else():
    "The default address appears only where FITLAM_REPO is defined or generated into (no hand-written copies)."
    allowed = {"README.md", "pyproject.toml", "fitlam/colab.py", "fitlam/_modidx.py"}
    skip = {".git", ".venv", "runs", "data", "models", "node_modules", "artifacts", "__pycache__", ".pytest_cache"}
    suffixes = {".py", ".md", ".toml", ".ipynb", ".yml", ".cfg", ".ini", ".txt", ""}
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if not path.is_file() or path.suffix not in suffixes or skip & parts or any(p.endswith(".egg-info") for p in parts):
            continue
        text = path.read_text(errors="replace")
        if FITLAM_REPO not in text: continue
        name = path.relative_to(ROOT).as_posix()
        if path.suffix == ".ipynb":
            for cell in json.loads(text)["cells"]:
                source = "".join(cell["source"])
                if FITLAM_REPO in source:
                    assert source == set_up_cell(path) or f'FITLAM_REPO = "{FITLAM_REPO}"' in source \
                        or path.name in OLD_SET_UP_CELL, f"{name}: a cell names the kit's address itself"
        else:
            assert name in allowed, f"{name} names the kit's address; use fitlam.colab.FITLAM_REPO"


def test_fitlam_repo_in_the_environment_is_not_a_preset_key(monkeypatch, capsys):
    from fitlam.core import load_preset
    monkeypatch.setenv("FITLAM_REPO", "https://github.com/a-learner/fitlam")
    load_preset("quick")
    assert "FITLAM_REPO" not in capsys.readouterr().out


def test_point_kit_at_a_fork(tmp_path):
    "`make colab REPO=...` on a copy of the project: every address moves to the fork, and the export follows."
    for name in ("README.md", "pyproject.toml"): shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_*"))
    (tmp_path / "fitlam").mkdir()
    shutil.copy(ROOT / "fitlam" / "__init__.py", tmp_path / "fitlam")
    fork = "https://github.com/a-learner/fitlam"
    changed = point_kit_at(fork, tmp_path)
    assert {p.name for p in changed} == {"README.md", "pyproject.toml", *(p.name for p in NOTEBOOKS)}
    for path in sorted((tmp_path / "nbs").glob("*.ipynb")):
        assert set_up_cell(path) == colab_setup_source(fork), path.name
    for path in [tmp_path / "README.md", tmp_path / "pyproject.toml", *(tmp_path / "nbs").glob("*.ipynb")]:
        assert FITLAM_REPO not in path.read_text(), path.name
    readme = (tmp_path / "README.md").read_text()
    assert colab_badge(fork) in readme and "https://colab.research.google.com/github/a-learner/fitlam/blob/main/nbs/NAME.ipynb" in readme
    done = subprocess.run([Path(sys.executable).parent / "nbdev-export"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f'FITLAM_REPO = "{fork}"' in (tmp_path / "fitlam" / "colab.py").read_text()


# --- the set-up cell, run as Colab runs it ------------------------------------------------------------------------

RUN_CELL = """
import os, sys
from IPython.core.interactiveshell import InteractiveShell
ok = InteractiveShell.instance().run_cell(open(sys.argv[1]).read()).success
print("cwd:", os.getcwd())
print("ok" if ok else "failed")
"""


def run_set_up_cell(tmp_path: Path, env: dict, colab: bool = True) -> tuple[list[str], Path]:
    """Run the set-up cell in a fresh IPython; `/content/fitlam` is moved to tmp_path/content/fitlam (the one change).
    Returns (the lines it printed, the kit folder)."""
    kit = tmp_path / "content" / "fitlam"
    kit.parent.mkdir(exist_ok=True)
    cell = tmp_path / "cell.py"
    cell.write_text(colab_setup_source().replace('"/content/fitlam"', repr(str(kit))))
    environ = {k: v for k, v in os.environ.items() if k not in ("FITLAM_REPO", "COLAB_RELEASE_TAG")}
    environ.update(env, PYTHONPATH=str(ROOT), **({"COLAB_RELEASE_TAG": "release-colab-test"} if colab else {}))
    done = subprocess.run([sys.executable, "-c", RUN_CELL, str(cell)], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return lines, kit


def kit_repository(folder: Path) -> Path:
    "A git repository shaped like the kit (nbs/00_core.ipynb), to clone from without a network."
    (folder / "nbs").mkdir(parents=True)
    (folder / "nbs" / "00_core.ipynb").write_text("{}")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "kit"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return folder


def test_set_up_cell_does_nothing_outside_colab(tmp_path):
    lines, kit = run_set_up_cell(tmp_path, {"FITLAM_REPO": str(tmp_path / "nowhere")}, colab=False)
    assert lines == [f"cwd: {tmp_path}", "ok"] and not kit.exists()


def test_set_up_cell_clones_the_repository_it_is_given(tmp_path):
    origin = kit_repository(tmp_path / "fork")
    lines, kit = run_set_up_cell(tmp_path, {"FITLAM_REPO": origin.as_uri()})
    assert lines == [f"cwd: {kit / 'nbs'}", "ok"], lines
    assert (kit / ".git").is_dir() and (kit / "nbs" / "00_core.ipynb").is_file()


def test_set_up_cell_uses_an_uploaded_copy(tmp_path):
    "A folder named by FITLAM_REPO (an upload, or Drive) is used as it is; so is /content/fitlam when it is there."
    upload = tmp_path / "content" / "fitlam-main"
    (upload / "nbs").mkdir(parents=True)
    (upload / "nbs" / "00_core.ipynb").write_text("{}")
    lines, kit = run_set_up_cell(tmp_path, {"FITLAM_REPO": str(upload)})
    assert lines == [f"cwd: {upload / 'nbs'}", "ok"] and not kit.exists()
    upload.rename(kit)   # unzipped to /content/fitlam: no FITLAM_REPO needed, nothing cloned
    lines, _ = run_set_up_cell(tmp_path, {"FITLAM_REPO": str(tmp_path / "nowhere")})
    assert lines == [f"cwd: {kit / 'nbs'}", "ok"]


def test_set_up_cell_fails_with_one_sentence_when_the_kit_is_not_reachable(tmp_path):
    nowhere = (tmp_path / "no-such-fork").as_uri()
    lines, kit = run_set_up_cell(tmp_path, {"FITLAM_REPO": nowhere})
    assert lines[-1] == "failed" and len(lines) == 3, lines       # the sentence, the cwd, "failed"
    sentence = lines[0]
    assert sentence.startswith(f"Could not clone the fitlam kit from {nowhere} (") and sentence.endswith("again.")
    assert "%env FITLAM_REPO=https://github.com/YOU/fitlam" in sentence and "upload" in sentence and "Drive" in sentence
    assert "Traceback" not in sentence and not kit.exists()


def test_set_up_cell_refuses_a_folder_that_is_not_the_kit(tmp_path):
    (tmp_path / "content" / "fitlam").mkdir(parents=True)   # an empty upload
    lines, kit = run_set_up_cell(tmp_path, {})
    assert lines[0] == (f"{kit} does not hold the fitlam kit (it has no nbs/00_core.ipynb); point FITLAM_REPO at a "
                        "clone or an unpacked copy of the kit, then run this cell again.") and lines[-1] == "failed"
