"""`fitlam ablate` as a user runs it: the quick grid — every table of notebook 15 — from the command line, in two
worker processes; run again, it computes nothing; its report; the same numbers in one process as in two."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FITLAM = str(Path(sys.executable).parent / "fitlam")
TABLES = {"pretraining", "lm_fine_tuning", "classifier", "direction", "low_shot"}


def fitlam(*args):
    return subprocess.run([FITLAM, *map(str, args)], capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate") / "grid"
    done = fitlam("ablate", "--preset", "quick", "--seeds", "1", "--workers", "2", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_the_quick_grid_has_every_table(grid):
    out, done = grid
    table = pd.read_csv(out / "ablations.csv")
    assert set(table.table) == TABLES
    # quick has 200 labels, so the low-shot points are 100 and all 200: semi-supervised, supervised, from scratch
    assert table[table.table == "low_shot"].row.tolist() == [
        "semi-supervised, 100 labels", "supervised, 100 labels", "from scratch, 100 labels",
        "semi-supervised, 200 labels", "supervised, 200 labels", "from scratch, 200 labels"]
    assert table.accuracy.between(0, 1).all() and (table.seeds == 1).all()
    compared = table[table.paper_better.notna()]
    assert set(compared.agrees) <= {"yes", "no", "within spread"}
    # the full method is the reference row of three tables: one recipe, trained once, the same number in each
    full = table[table.recipe == "fitlam"]
    assert len(full) >= 4 and full.accuracy.nunique() == 1
    meta = json.loads((out / "ablations.json").read_text())
    assert meta["preset"] == "quick" and meta["workers"] == 2 and meta["test_reviews"] == 2500
    assert (out / "ablations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "estimate: ≈" in done.stdout and "freez + discr + stlr" in done.stdout


def test_the_ensemble_row_averages_the_two_directions(grid):
    out, _ = grid
    table = pd.read_csv(out / "ablations.csv")
    cells = {json.loads(p.read_text())["recipe"]["direction"]: json.loads(p.read_text())
             for p in (out / "work").glob("*/cells/*.json") if p.name in ("fitlam.seed0.json", "direction=bwd.seed0.json")}
    truth = pd.read_csv(Path(__file__).parent.parent / "data" / "imdb_sample" / "test.csv.gz").label
    y = (truth == "pos").astype(int).to_numpy()   # classes in sorted order: neg, pos
    both = np.mean([cells["fwd"]["probs"], cells["bwd"]["probs"]], 0).argmax(1)
    row = table[table.row == "forward + backward"].iloc[0]
    assert abs(row.accuracy - np.mean(both == y)) < 1e-4


def test_running_it_again_computes_nothing(grid):
    out, _ = grid
    before = (out / "ablations.csv").read_text()
    done = fitlam("ablate", "--preset", "quick", "--seeds", "1", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "to do: 0 cells, 0 LMs" in done.stdout and "estimate" not in done.stdout
    assert (out / "ablations.csv").read_text() == before


def test_one_process_gives_the_same_numbers_as_two(grid, tmp_path):
    out, _ = grid
    done = fitlam("ablate", "--preset", "quick", "--seeds", "1", "--workers", "1", "--only", "lm_fine_tuning",
                  "--out", tmp_path / "alone")
    assert done.returncode == 0, done.stderr[-2000:]
    alone = pd.read_csv(tmp_path / "alone" / "ablations.csv")
    together = pd.read_csv(out / "ablations.csv").query("table == 'lm_fine_tuning'")
    assert alone.accuracies.tolist() == together.accuracies.tolist()


def test_the_report_shows_the_grid(grid):
    out, done = grid
    page = (out / "report.html").read_text()
    assert "report:" in done.stdout and "fitlam ablations" in page and "without pretraining" in page
    assert page.count("data:image/png;base64,") == 1 and "could not be drawn" not in page
    assert fitlam("report", out).returncode == 0


def test_an_unknown_table_is_a_one_line_error(tmp_path):
    done = fitlam("ablate", "--preset", "quick", "--only", "freezing", "--out", tmp_path / "x")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "unknown ablation freezing" in done.stderr and "low_shot" in done.stderr
