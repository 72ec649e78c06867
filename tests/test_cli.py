"""The `fitlam` command as a user meets it: help, one-line errors with a non-zero exit, no tracebacks."""
import subprocess
import sys
from pathlib import Path

FITLAM = str(Path(sys.executable).parent / "fitlam")


def fitlam(*args, env=None):
    return subprocess.run([FITLAM, *args], capture_output=True, text=True, timeout=600, env=env)


def test_help_lists_commands_and_examples():
    done = fitlam("--help")
    assert done.returncode == 0 and "run" in done.stdout and "examples:" in done.stdout


def test_bogus_preset_is_a_one_line_error():
    done = fitlam("run", "--preset", "bogus")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "unknown preset 'bogus'" in done.stderr and "quick" in done.stderr and "demo" in done.stderr
    assert "Traceback" not in done.stderr


def test_bogus_preset_from_the_environment(monkeypatch):
    import os
    env = {**os.environ, "FITLAM_PRESET": "nope"}
    done = subprocess.run([sys.executable, "-c", "from fitlam.core import load_preset; load_preset()"],
                          capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "unknown preset 'nope'; valid presets: " in done.stderr


def test_presets_command_shows_every_preset():
    done = fitlam("presets")
    assert done.returncode == 0
    header = done.stdout.splitlines()[0].split()
    assert {"quick", "demo", "colab", "paper"} <= set(header)


def test_env_report():
    done = fitlam("env")
    assert done.returncode == 0 and "torch:" in done.stdout and "device:" in done.stdout
