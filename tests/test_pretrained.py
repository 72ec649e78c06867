"""The general-English LM that ships in models/: it loads, is small enough to commit, is honest about what it is,
and its recorded validation perplexity is what the saved weights really give (recomputed here)."""
import json
import math
from pathlib import Path

import pytest

from fitlam.saved import holds_model, read_manifest

ROOT = Path(__file__).resolve().parent.parent
DIRECTIONS = [d for d in ("fwd", "bwd") if holds_model(ROOT / "models" / f"general_english_{d}", "language_model")]


def test_the_forward_model_ships():
    assert "fwd" in DIRECTIONS, "models/general_english_fwd holds no saved LM: see README (fitlam pretrain)"


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_shipped_lm_card_and_size(direction):
    folder = ROOT / "models" / f"general_english_{direction}"
    card = json.loads((folder / "card.json").read_text())
    _, manifest = read_manifest(folder, "language_model")
    assert sum((folder / entry["name"]).stat().st_size for entry in manifest["files"].values()) <= 10 * 2**20
    for key in ("valid_perplexity", "command", "epochs", "wall_s", "train_tokens", "preset_values", "description"):
        assert key in card, key
    assert card["command"].startswith("fitlam pretrain") and ("--backwards" in card["command"]) == (direction == "bwd")
    assert "not WikiText-103" in card["description"]
    assert (folder / "history.csv").read_text().startswith("epoch,train_loss,valid_loss")
    assert (folder / "lr_history.csv").read_text().startswith("stage,phase,step,group,lr,frozen")


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_shipped_lm_perplexity_is_what_the_card_says(direction):
    from fitlam.core import Preset
    from fitlam.data import load_pretrain_corpus
    from fitlam.learner import Learner
    from fitlam.pretrain import lm_loaders, load_lm, numericalize_docs
    from fitlam.fast_tokenize import tokenize_corpus

    folder = ROOT / "models" / f"general_english_{direction}"
    card = json.loads((folder / "card.json").read_text())
    p = Preset(card["preset_values"], preset=card["preset"])
    model, vocab, config = load_lm(folder, device="cpu")
    assert config["backwards"] == (direction == "bwd") and model.tied
    valid = tokenize_corpus(load_pretrain_corpus(p)["valid"])
    _, valid_dl = lm_loaders(numericalize_docs(valid, vocab), numericalize_docs(valid, vocab), p,
                             backwards=config["backwards"])
    result = Learner(model, valid_dl, valid_dl, device="cpu", progress=False).validate()
    assert math.isclose(result["perplexity"], card["valid_perplexity"], rel_tol=1e-3), (result, card["valid_perplexity"])
    assert result["perplexity"] < 0.1 * len(vocab)   # far better than a uniform guess
