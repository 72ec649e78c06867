"""The Colab user's path, with the network replaced by a server on 127.0.0.1: `fitlam run --preset paper --pretrained
wt103` from an empty cache downloads the full IMDb and both WT103 LMs (stand-ins in fastai's real layouts), adopts the
weights' 1152 hidden units, trains (tiny data, CPU) and writes the report; offline, the error is one line that names
the command that fetches what is missing."""
import http.server
import json
import sys
import pickle
import tarfile
import threading
from pathlib import Path

import pytest
import torch

import fitlam.data as data
import fitlam.downloads as downloads
from fitlam.awd_lstm import AWDLSTM
from fitlam.wt103 import fastai_key_map

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import call  # noqa: E402  (`fitlam ARGV` in this process: exit status, stdout, stderr)

WORDS = ("the a film movie great superb lovely awful bad dire dull fine plot actor story was is and it this "
         "not very good terrible").split()


def fake_imdb(folder: Path) -> Path:
    "fastai's imdb/ layout with a few dozen short reviews."
    good, bad = ["great", "superb", "lovely", "fine", "good"], ["awful", "bad", "dire", "dull", "terrible"]
    for split, n in (("train", 14), ("test", 6), ("unsup", 10)):
        for i in range(n):
            for label, words in (("pos", good), ("neg", bad)):
                sub = folder / "imdb" / split / (label if split != "unsup" else "")
                sub.mkdir(parents=True, exist_ok=True)
                text = f"this film was {words[i % 5]} and the plot is {words[(i + 2) % 5]} , a {words[(i + 1) % 5]} movie {i} {split}"
                (sub / f"{label}_{i}_{split}.txt").write_text(text)
    return folder / "imdb"


def fake_wt103(folder: Path, direction: str) -> Path:
    "A stand-in for fastai's wt103-<direction>.tgz: lstm_<direction>.pth (fastai's key names, 400/1152/3) and itos_wt103.pkl."
    torch.manual_seed(0)
    itos = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep", *WORDS]
    encoder = AWDLSTM(len(itos), 400, 1152, 3)
    params = dict(encoder.named_parameters())
    state = {key: params[name].detach().clone() for key, name in fastai_key_map(3).items()}
    out = folder / f"wt103-{direction}"
    out.mkdir(parents=True)
    torch.save(state, out / f"lstm_{direction}.pth")
    with open(out / "itos_wt103.pkl", "wb") as f: pickle.dump(itos, f)
    return out


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    "A local server with imdb.tgz, wt103-fwd.tgz and wt103-bwd.tgz; ONLINE_SOURCES point at it; an empty cache."
    www, src = tmp_path / "www", tmp_path / "src"
    www.mkdir()
    with tarfile.open(www / "imdb.tgz", "w:gz") as tar: tar.add(fake_imdb(src), arcname="imdb")
    for direction in ("fwd", "bwd"):
        with tarfile.open(www / f"wt103-{direction}.tgz", "w:gz") as tar:
            tar.add(fake_wt103(src, direction), arcname=f"wt103-{direction}")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs): super().__init__(*args, directory=str(www), **kwargs)
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    for name in ("imdb", "wt103-fwd", "wt103-bwd"):
        monkeypatch.setitem(downloads.ONLINE_SOURCES, name, downloads.OnlineSource(f"{url}/{name}.tgz", None, "stand-in"))
    monkeypatch.setenv("FITLAM_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield url
    server.shutdown()
    server.server_close()


# tiny batches: the sizes of the model are fixed by the weights, the rest of the preset is not
SMALL = [arg for pair in ("bs=4", "bptt=8", "lm_epochs=1", "clf_epochs=1", "clf_bs=8", "max_len=40", "min_freq=1")
         for arg in ("--set", pair)]


def test_paper_preset_with_wt103_from_an_empty_cache(mirror, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = call("run", "--preset", "paper", "--pretrained", "wt103", "--out", out, *SMALL)
    assert code == 0, err
    assert "imdb_full (downloaded once into" in stdout and "embedded imdb_full" not in stdout   # an honest banner
    assert "note: fastai's WT103 weights have n_hid=1152 (the paper's model has 1150)" in stdout
    config = json.loads((out / "config.json").read_text())
    assert (config["n_hid"], config["run"]["pretrained"]) == (1152, {"fwd": "wt103", "bwd": "wt103"})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 12 and set(metrics) >= {"fwd", "bwd", "ensemble", "baseline"}
    assert (out / "report.html").is_file()
    cache = tmp_path / "cache"
    assert {p.name for p in cache.iterdir()} >= {"imdb", "imdb.tgz", "imdb.tgz.sha256", "wt103-fwd", "wt103-bwd"}


def test_colab_preset_from_an_empty_cache_downloads_both(mirror, tmp_path):
    "`fitlam run --preset colab` with no --pretrained: the preset's own `pretrained = wt103`, both fetched on the way."
    out = tmp_path / "run"
    code, stdout, err = call("run", "--preset", "colab", "--out", out, *SMALL)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert (config["pretrained"], config["run"]["pretrained"]) == ("wt103", {"fwd": "wt103", "bwd": "wt103"})
    assert {p.name for p in (tmp_path / "cache").iterdir()} >= {"imdb", "wt103-fwd", "wt103-bwd"}
    assert (out / "report.html").is_file()


def test_finetune_lm_with_the_paper_preset_starts_from_wt103(mirror, tmp_path):
    "`fitlam finetune-lm --preset paper`: the preset's wt103 is fetched and its 1152 hidden units adopted, as `run` does."
    texts = tmp_path / "texts.csv"
    texts.write_text("text\n" + "\n".join(f"this film was {w} and the plot is {v} , a movie {i}"
                                          for i, (w, v) in enumerate(zip(WORDS * 2, WORDS[3:] * 2))) + "\n")
    out = tmp_path / "lm"
    code, stdout, err = call("finetune-lm", "--preset", "paper", "--data", texts, "--out", out, *SMALL)
    assert code == 0, err
    from fitlam.pretrain import load_lm
    _, _, config = load_lm(out)
    assert (config["n_hid"], config["emb_sz"], config["n_layers"]) == (1152, 400, 3)
    assert (tmp_path / "cache" / "wt103-fwd").is_dir()


def test_offline_the_error_names_the_command_that_fetches(tmp_path, monkeypatch):
    monkeypatch.setenv("FITLAM_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(downloads.ONLINE_SOURCES, "imdb", downloads.OnlineSource("http://127.0.0.1:9/imdb.tgz", None, "nowhere"))
    code, _, err = call("run", "--preset", "paper", "--out", tmp_path / "run", *SMALL)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "could not reach http://127.0.0.1:9/imdb.tgz" in err and "`fitlam download imdb`" in err
    assert not (tmp_path / "run").exists()               # nothing was started, so no run folder to clean up
    from fitlam.core import FitlamError
    with pytest.raises(FitlamError, match="download it once with `fitlam download imdb`"):
        downloads.load_imdb_full()
