"""The library is generated from the notebooks: `fitlam/` must be exactly what `nbdev-export` makes of `nbs/`,
and every notebook must already be clean (`nbdev-clean` would change nothing). Both checks run on a copy, so
the test never rewrites your working tree; the fix for a failure is `make export`."""
import difflib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def copy_project(dest: Path) -> Path:
    "The notebooks and config, plus only the hand-kept `fitlam/__init__.py` (the version) and `__main__.py` (`python -m fitlam`)."
    shutil.copy(ROOT / "pyproject.toml", dest)
    shutil.copytree(ROOT / "nbs", dest / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_*"))
    (dest / "fitlam").mkdir()
    for hand_kept in ("__init__.py", "__main__.py"): shutil.copy(ROOT / "fitlam" / hand_kept, dest / "fitlam")
    return dest


def py_files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*.py"))
            if "__pycache__" not in p.parts}


def run(cmd, cwd):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}"


def test_library_matches_notebooks(tmp_path):
    project = copy_project(tmp_path)
    run([BIN / "nbdev-export"], cwd=project)
    fresh, committed = py_files(project / "fitlam"), py_files(ROOT / "fitlam")
    assert sorted(committed) == sorted(fresh), (
        f"fitlam/ has modules no notebook exports or lacks ones they do: {sorted(set(committed) ^ set(fresh))}. "
        "Run `make export`.")
    for name in fresh:
        if fresh[name] != committed[name]:
            diff = "".join(difflib.unified_diff(fresh[name].splitlines(True), committed[name].splitlines(True),
                                                f"exported from nbs/ {name}", f"committed fitlam/{name}", n=1))
            raise AssertionError(f"fitlam/{name} differs from its notebook; run `make export`.\n{diff[:3000]}")


def test_notebooks_are_clean(tmp_path):
    project = copy_project(tmp_path)
    run([BIN / "nbdev-clean", "--fname", "nbs"], cwd=project)
    unclean = [p.name for p in sorted((ROOT / "nbs").glob("*.ipynb"))
               if p.read_bytes() != (project / "nbs" / p.name).read_bytes()]
    assert not unclean, f"notebooks not clean (cell ids, metadata or execution counts): {unclean}; run `make export`."
