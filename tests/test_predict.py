"""`fitlam predict` never writes over its input or over an existing file without --overwrite, reads --encoding, and
says how many bytes it replaced when the input is not valid UTF-8."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fitlam.core import load_preset
from fitlam.pipeline import run_fitlam, user_task

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import three_way_table, toy_lm  # noqa: E402

FITLAM = str(Path(sys.executable).parent / "fitlam")


def fitlam(*args):
    return subprocess.run([FITLAM, *map(str, args)], capture_output=True, text=True, timeout=600)


def one_line_error(done, expected):
    assert done.returncode == 2 and done.stderr.startswith("fitlam: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    three_way_table().to_csv(d / "sentences.csv", index=False)
    toy_lm(d / "lm_fwd")
    p = load_preset("quick", bidirectional=False)
    task = user_task(d / "sentences.csv", text_col="sentence", label_col="verdict", seed=p.seed)
    run_fitlam(p, out=d / "run", task=task, pretrained=d / "lm_fwd", progress=False,
               task_info={"data": str(d / "sentences.csv"), "text_col": "sentence", "label_col": "verdict"})
    return d / "run"


def test_an_existing_out_is_replaced_only_with_overwrite(run, tmp_path):
    three_way_table(5).drop(columns="verdict").to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    assert fitlam("predict", "--model", run, "--data", tmp_path / "new.csv", "--out", out).returncode == 0
    out.write_text("my earlier predictions\n")
    one_line_error(fitlam("predict", "--model", run, "--data", tmp_path / "new.csv", "--out", out),
                   f"{out} exists; choose another --out, or pass --overwrite to replace it")
    assert out.read_text() == "my earlier predictions\n"
    done = fitlam("predict", "--model", run, "--data", tmp_path / "new.csv", "--out", out, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 15


def test_the_input_is_never_replaced(run, tmp_path):
    data = tmp_path / "new.csv"
    three_way_table(5).drop(columns="verdict").to_csv(data, index=False)
    before = data.read_bytes()
    (tmp_path / "link.csv").symlink_to(data)
    for out in (data, tmp_path / "." / "new.csv", tmp_path / "link.csv"):
        one_line_error(fitlam("predict", "--model", run, "--data", data, "--out", out, "--overwrite"),
                       "is the input --data; predictions never replace their input")
    assert data.read_bytes() == before


def test_encoding_and_the_count_of_replaced_bytes(run, tmp_path):
    data = tmp_path / "latin1.csv"
    table = three_way_table(4).drop(columns="verdict")
    table.loc[0, "sentence"] = "un café crème , très bon ."
    table.loc[1, "sentence"] = "a naïve film ."
    data.write_bytes(table.to_csv(index=False).encode("latin-1"))
    done = fitlam("predict", "--model", run, "--data", data, "--out", tmp_path / "p.csv")
    assert done.returncode == 0, done.stderr
    assert f"note: {data} is not valid UTF-8: 4 bytes were replaced by '\ufffd', in 2 rows" in done.stdout
    assert "--encoding latin-1" in done.stdout
    done = fitlam("predict", "--model", run, "--data", data, "--out", tmp_path / "q.csv", "--encoding", "latin-1")
    assert done.returncode == 0, done.stderr
    assert "not valid UTF-8" not in done.stdout
    assert pd.read_csv(tmp_path / "q.csv").sentence[0] == "un café crème , très bon ."
    one_line_error(fitlam("predict", "--model", run, "--data", data, "--out", tmp_path / "r.csv", "--encoding", "utf-8"),
                   "can't be read as utf-8")


def test_parquet_out_without_pyarrow_is_refused_before_any_work(run, tmp_path):
    import importlib.util
    if importlib.util.find_spec("pyarrow") or importlib.util.find_spec("fastparquet"):
        pytest.skip("a Parquet engine is installed here")
    three_way_table(5).drop(columns="verdict").to_csv(tmp_path / "new.csv", index=False)
    one_line_error(fitlam("predict", "--model", run, "--data", tmp_path / "new.csv", "--out", tmp_path / "p.parquet"),
                   "writing p.parquet needs pyarrow")
    assert not (tmp_path / "p.parquet").exists()
