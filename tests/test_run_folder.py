"""A run folder is the run's own: `--overwrite` deletes only the files fitlam runs wrote there (its manifest), refuses
a folder fitlam did not make, one that holds the run's inputs and the kit's own folders; and while a run writes into
it, a second writer is refused, while the lock of a killed run is taken over."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fitlam.core import repo_root
from fitlam.files import atomic_path
from fitlam.run_folder import RUN_LOCK, RUN_MANIFEST, RUN_MARKER, holding_run_folder, run_files

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

FITLAM = str(Path(sys.executable).parent / "fitlam")
QUICK = ["--preset", "quick", "--set", "bidirectional=false"]


def fitlam(*args, cwd=None):
    return subprocess.run([FITLAM, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


def one_line_error(done, *expected):
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert done.stderr.startswith("fitlam: error: ") and done.stderr.count("\n") == 1, done.stderr
    for text in expected: assert text in done.stderr, done.stderr


def same_names(names) -> list[str]:
    "File names with the random part of a classifier's file names (weights-1a2b3c4d.pth) taken out."
    return sorted(re.sub(r"-[0-9a-f]{8}\.", "-*.", name) for name in names)


def tree(folder: Path) -> dict[str, bytes]:
    "Every file under `folder` with its bytes."
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("runfolder")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    return d


def train(work: Path, out: Path, *more, data=None):
    return [FITLAM, "train", "--data", str(data or work / "sentences.csv"), "--text-col", "sentence",
            "--label-col", "verdict", *QUICK, "--pretrained", str(work / "lm_fwd"), "--out", str(out), *map(str, more)]


def test_overwrite_run_after_run_deletes_only_what_runs_wrote(work, tmp_path):
    "`make demo` is `fitlam run --out runs/demo --overwrite`: it must work on a fresh folder and again on its own."
    out = tmp_path / "runs" / "demo"
    argv = ["run", *QUICK, "--pretrained", work / "lm_fwd", "--out", out, "--overwrite"]
    first = fitlam(*argv)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / RUN_MARKER).is_file() and not (out / RUN_LOCK).read_text()   # marked; lock released
    scores = json.loads((out / "metrics.json").read_text())["fwd"]["test"]
    listed = run_files(out)
    assert {"config.json", "metrics.json", "predictions.csv", "history.csv", "lr_history.csv", "report.html",
            "lm_fwd/fitlam-model.json", "lm_fwd/stage.json", "classifier_fwd/fitlam-model.json"} <= set(listed)
    assert "checkpoints/lm_fwd.pt" in listed and not (out / "checkpoints").exists()   # written, then spent
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {RUN_MARKER, RUN_MANIFEST, RUN_LOCK}
    assert on_disk <= set(listed)   # every file the run left is in the manifest
    # your files in the run folder, and a file an earlier run (say a bidirectional one) wrote
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir(); (out / "data" / "mine.csv").write_text("text,label\n")
    (out / "lm_fwd" / "README.md").write_text("my notes on this LM")
    with holding_run_folder(out):
        with atomic_path(out / "lm_bwd" / "model.pt") as tmp: tmp.write_text("an earlier run's")
    second = fitlam(*argv)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (out / "notes.txt").read_text() == "mine" and (out / "data" / "mine.csv").is_file()
    assert (out / "lm_fwd" / "README.md").read_text() == "my notes on this LM"
    assert not (out / "lm_bwd").exists()                       # the earlier run's file and folder: gone
    assert json.loads((out / "metrics.json").read_text())["fwd"]["test"] == scores   # the same run, again
    assert not [name for name in run_files(out) if ".tmp-" in name]
    assert same_names(run_files(out)) == same_names(listed)   # the same run's files, listed once each


def test_overwrite_never_deletes_the_input_data(work, tmp_path):
    "The issue's case: `fitlam train --data proj/data/reviews.csv --out proj --overwrite` deleted the input CSV."
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    three_way_table().to_csv(proj / "data" / "reviews.csv", index=False)
    (proj / "metrics.json").write_text("{}")   # a file whose name a run also writes
    before = tree(proj)
    for flags in (["--overwrite"], [], ["--resume"]):
        done = subprocess.run(train(work, proj, *flags, data=proj / "data" / "reviews.csv"), capture_output=True,
                              text=True, timeout=600)
        one_line_error(done, f"--out {proj} holds the run's input {proj / 'data' / 'reviews.csv'}")
    assert tree(proj) == before   # not one byte changed, no lock file left
    # a folder that is not a run folder is refused even when the input lies elsewhere
    done = subprocess.run(train(work, proj, "--overwrite"), capture_output=True, text=True, timeout=600)
    one_line_error(done, f"{proj} is not empty and is not a fitlam run folder", "choose another --out")
    assert tree(proj) == before
    # and a real run folder that holds the input is refused too
    (proj / RUN_MARKER).write_text("{}")
    done = subprocess.run(train(work, proj, "--overwrite", data=proj / "data" / "reviews.csv"), capture_output=True,
                          text=True, timeout=600)
    one_line_error(done, "holds the run's input")
    assert (proj / "data" / "reviews.csv").read_bytes() == before["data/reviews.csv"]


@pytest.mark.parametrize("where", [".", "..", "data", "models/general_english_fwd", "nbs", "data/imdb_sample/x"])
def test_overwrite_never_touches_the_kit(where):
    "`--out .` inside the clone would have deleted the shipped data/: the kit, its parents and data/, models/, nbs/ are refused."
    root = repo_root()
    before = {p: p.stat().st_mtime_ns for p in (root / "data").rglob("*")}
    done = fitlam("run", "--preset", "quick", "--out", where, "--overwrite", cwd=root)
    one_line_error(done, "--out ", "choose a folder of its own" if where not in (".", "..") else "the kit's own folder")
    assert {p: p.stat().st_mtime_ns for p in (root / "data").rglob("*")} == before
    assert not (root / RUN_LOCK).exists() and not (root / RUN_MARKER).exists()
    assert not (root / "data" / "imdb_sample" / "x").exists()


# ---------------------------------------------------------------------------------------------------------------
# The lock: two real `fitlam` processes.

def wait_for_lock(out: Path, pid: int, child, timeout: float = 300):
    "Wait until process `pid` holds the run folder's lock (its id is in the lock file)."
    deadline = time.time() + timeout
    while time.time() < deadline and child.poll() is None:
        if (out / RUN_LOCK).is_file() and (out / RUN_LOCK).read_text().strip() == str(pid): return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never took the lock: {child.poll()}")


def test_a_second_writer_is_refused_while_a_run_writes(work, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(train(work, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(out, first.pid, first)
        os.kill(first.pid, signal.SIGSTOP)   # frozen while it holds the lock (like a slow stage), so the timing is certain
        for flags in (["--overwrite"], ["--resume"], []):
            done = subprocess.run(train(work, out, *flags), capture_output=True, text=True, timeout=600)
            one_line_error(done, f"{out} is in use by another fitlam run (process {first.pid})")
        os.kill(first.pid, signal.SIGCONT)
        stdout, stderr = first.communicate(timeout=600)
        assert first.returncode == 0, stderr[-3000:]   # the first run was not disturbed
    finally:
        if first.poll() is None: os.kill(first.pid, signal.SIGCONT); first.kill(); first.wait()
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
    assert (out / RUN_LOCK).read_text() == ""


def test_the_lock_of_a_killed_run_is_taken_over(work, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(train(work, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lock(out, first.pid, first)
    first.kill(); first.wait()   # SIGKILL: no clean-up ran, its process id is still in the lock file
    assert (out / RUN_LOCK).read_text().strip() == str(first.pid)
    done = subprocess.run(train(work, out, "--resume"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"note: {out} was locked by process {first.pid}, which stopped without releasing it; taking it over" in done.stdout
    assert (out / "metrics.json").is_file() and (out / RUN_LOCK).read_text() == ""


def test_a_second_pretrain_into_the_same_folder_is_refused(tmp_path):
    "`fitlam pretrain` holds its --out folder's lock too: a concurrent second writer, even with --overwrite, stops."
    out = tmp_path / "lm"
    first = subprocess.Popen([FITLAM, "pretrain", "--preset", "quick", "--out", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(out, first.pid, first)
        os.kill(first.pid, signal.SIGSTOP)
        done = subprocess.run([FITLAM, "pretrain", "--preset", "quick", "--out", str(out), "--overwrite"],
                              capture_output=True, text=True, timeout=600)
        one_line_error(done, f"{out} is in use by another fitlam run (process {first.pid})")
        os.kill(first.pid, signal.SIGCONT)
        _, stderr = first.communicate(timeout=600)
        assert first.returncode == 0, stderr[-3000:]
    finally:
        if first.poll() is None: os.kill(first.pid, signal.SIGCONT); first.kill(); first.wait()
    assert (out / "fitlam-model.json").is_file() and (out / RUN_LOCK).read_text() == ""
