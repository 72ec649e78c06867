"""The shell's FITLAM_* variables: FITLAM_PRESET chooses the preset of every command given no --preset (as the
README says), FITLAM_<KEY> overrides a key, and a FITLAM_* variable that names no key is ignored with one note
instead of breaking every command."""
import os
import subprocess
import sys
from pathlib import Path

FITLAM = str(Path(sys.executable).parent / "fitlam")


def fitlam(*args, **env):
    "Run the command with exactly the FITLAM_* variables given (the test session sets FITLAM_PRESET itself)."
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FITLAM_")}
    return subprocess.run([FITLAM, *map(str, args)], capture_output=True, text=True, timeout=600, env={**clean, **env})


def stopped_run(tmp_path, *args, **env):
    "`fitlam run` into a folder it refuses: it says which preset it resolved, then stops before any work."
    (tmp_path / "mine").mkdir(exist_ok=True); (tmp_path / "mine" / "notes.txt").write_text("mine")
    done = fitlam("run", "--out", tmp_path / "mine", *args, **env)
    assert done.returncode == 2 and "is not a fitlam run folder" in done.stderr, done.stderr
    return done


def test_fitlam_preset_chooses_the_preset_of_the_command(tmp_path):
    assert "fitlam: preset demo on " in stopped_run(tmp_path).stdout                       # the default
    assert "fitlam: preset quick on " in stopped_run(tmp_path, FITLAM_PRESET="quick").stdout
    assert "fitlam: preset paper on " in stopped_run(tmp_path, "--preset", "paper", FITLAM_PRESET="quick").stdout
    done = fitlam("run", "--out", tmp_path / "new", FITLAM_PRESET="nope")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("fitlam: error: unknown preset 'nope'; valid presets: ") and not (tmp_path / "new").exists()


def test_an_unknown_fitlam_variable_is_ignored_with_one_note(tmp_path):
    done = fitlam("presets", FITLAM_BSS="12", FITLAM_CHROMIUM="/usr/bin/chromium")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("note: ignoring the environment variable FITLAM_BSS: it names no preset key "
                        "(did you mean FITLAM_BS? see `fitlam presets`)")
    assert sum("note:" in line for line in lines) == 1 and {"quick", "demo"} <= set(lines[1].split())
    assert "FITLAM_CHROMIUM" not in done.stdout   # the browser tests' variable: known, silent
    run = stopped_run(tmp_path, FITLAM_WHATEVER="1", FITLAM_BS="12")
    assert "ignoring the environment variable FITLAM_WHATEVER" in run.stdout
    bad = fitlam("presets", FITLAM_BS="twelve")   # a known key with a bad value is still an error
    assert bad.returncode == 2 and "preset key 'bs' needs a value of type int, got 'twelve'" in bad.stderr
