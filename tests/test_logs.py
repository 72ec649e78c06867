"""Output into a log file, a pipe or CI (`make demo > log 2>&1`, `nohup`) is plain text: no progress-bar block
characters, no carriage returns or other control characters — and it still shows the epoch table."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN = textwrap.dedent("""
    import numpy as np
    from fitlam.awd_lstm import awd_lstm_lm
    from fitlam.core import load_preset, seed_everything
    from fitlam.learner import Learner
    from fitlam.loaders import LMLoader
    seed_everything(0)
    rng = np.random.default_rng(0)
    docs = [rng.integers(9, 40, 60) for _ in range(8)]
    learn = Learner(awd_lstm_lm(40, load_preset("quick")), LMLoader(docs, 4, 10, seed=0),
                    LMLoader(docs[:2], 2, 10, shuffle=False), device="cpu", lr=1e-2)   # progress=True, the default
    learn.fit(2)
    print("done")
""")


def plain_text(text: str) -> bool:
    "Only printable characters and newlines: no \\r, no escape sequences, no progress-bar blocks."
    return all((c.isprintable() and c not in "█▏▎▍▌▋▊▉") or c == "\n" for c in text)


def test_a_training_log_through_a_pipe_is_plain_text():
    done = subprocess.run([sys.executable, "-c", TRAIN], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=600)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")   # bytes: no newline translation of \r
    assert done.returncode == 0, err
    assert plain_text(out), repr(out)
    assert plain_text(err), repr(err)
    lines = out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "perplexity", "time"]
    assert [line.split()[0] for line in lines[1:3]] == ["0", "1"] and lines[3] == "done"
    assert all(len(line.split()) == 6 for line in lines[:3])          # one value under every column
    assert lines[1].index(lines[1].split()[1]) == lines[0].index("train_loss")   # aligned under its name


def test_a_short_run_in_this_process_with_captured_output_is_plain_text(capsys):
    "capsys replaces stdout with a buffer, as a log file would: the same plain table."
    import numpy as np
    from fitlam.awd_lstm import awd_lstm_lm
    from fitlam.core import load_preset, seed_everything
    from fitlam.learner import Learner
    from fitlam.loaders import LMLoader
    seed_everything(0)
    docs = [np.random.default_rng(i).integers(9, 40, 60) for i in range(8)]
    Learner(awd_lstm_lm(40, load_preset("quick")), LMLoader(docs, 4, 10, seed=0), None, device="cpu",
            perplexity=False, metrics=()).fit(1)
    out = capsys.readouterr().out
    assert plain_text(out), repr(out)
    assert [line.split() for line in out.splitlines()][0] == ["epoch", "train_loss", "valid_loss", "time"]


def test_a_long_epoch_in_a_log_says_how_far_it_is(capsys, monkeypatch):
    "Without live bars, an epoch longer than PLAIN_PROGRESS_EVERY_S prints a plain progress line (here: every batch)."
    import numpy as np
    import fitlam.learner as learner
    from fitlam.awd_lstm import awd_lstm_lm
    from fitlam.core import load_preset, seed_everything
    from fitlam.loaders import LMLoader
    monkeypatch.setattr(learner, "PLAIN_PROGRESS_EVERY_S", 0)
    seed_everything(0)
    docs = [np.random.default_rng(i).integers(9, 40, 60) for i in range(8)]
    learn = learner.Learner(awd_lstm_lm(40, load_preset("quick")), LMLoader(docs, 4, 10, seed=0), None, device="cpu",
                            perplexity=False, metrics=())
    learn.fit(1)
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith("  epoch 0: ")]
    assert len(progress) == learn.n_iter and plain_text("\n".join(lines))
    assert progress[-1].startswith(f"  epoch 0: {learn.n_iter}/{learn.n_iter} batches (100%), ")
