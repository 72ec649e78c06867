"""A SentencePiece LM in another language, end to end through the command line, as a user would: pretrain on a French
corpus with `--tokenizer sentencepiece`, classify French reviews with `fitlam train --pretrained`, predict new ones.
The texts are made up by a seeded generator (no download), with accents and elisions no English vocabulary has."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitlam.classifier import Classifier
from fitlam.pretrain import load_lm
from fitlam.widgets import next_token_probs

FITLAM = [sys.executable, "-m", "fitlam"]
POSITIVE = ["magnifique", "émouvant", "réussi", "lumineux", "délicieux", "bouleversant"]
NEGATIVE = ["ennuyeux", "raté", "pénible", "décevant", "interminable", "médiocre"]


def phrase(rng, words) -> str:
    subject = rng.choice(["Le film", "L'histoire", "Ce scénario", "La mise en scène", "Le jeu des acteurs", "La musique"])
    middle = rng.choice(["était", "m'a semblé", "reste", "est vraiment", "paraît"])
    tail = rng.choice(["", " du début à la fin", " pour un premier film", ", à mon avis", " malgré quelques longueurs"])
    return f"{subject} {middle} {rng.choice(words)}{tail}."


def reviews(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["positif", "négatif"], n)
    texts = [" ".join(phrase(rng, POSITIVE if y == "positif" else NEGATIVE) for _ in range(rng.integers(1, 4))) for y in labels]
    return pd.DataFrame({"texte": texts, "avis": labels})


def run(*args):
    done = subprocess.run([*FITLAM, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def french_lm(tmp_path_factory):
    d = tmp_path_factory.mktemp("fr")
    rng = np.random.default_rng(0)
    corpus = reviews(1500, seed=1).texte.tolist() + [phrase(rng, POSITIVE + NEGATIVE) for _ in range(500)]
    (d / "romans.txt").write_text("\n\n".join(corpus), encoding="utf-8")
    run("pretrain", "--corpus", d / "romans.txt", "--tokenizer", "sentencepiece", "--vocab-size", 300, "--preset", "demo",
        "--epochs", 2, "--out", d / "lm_fr")   # the demo's model size: ~60k tokens, a few seconds an epoch
    return d


def test_the_pretrained_lm_carries_its_sentencepiece_model(french_lm):
    card = json.loads((french_lm / "lm_fr" / "card.json").read_text())
    assert card["tokenizer"] == "sentencepiece" and card["vocab_size"] <= 300 and card["words_from_vectors"] == 0
    model, vocab, _ = load_lm(french_lm / "lm_fr")
    assert type(vocab).__name__ == "SubwordVocab" and vocab.tokenize(["Émouvant !"])[0][0] == "xxbos"
    top = next_token_probs(model, vocab, "Le film était", k=5)   # the widget reads the prompt with the LM's pieces
    assert len(top) == 5 and top.prob.is_monotonic_decreasing


def test_fitlam_train_and_predict_with_a_sentencepiece_lm(french_lm, tmp_path):
    reviews(400, seed=2).to_csv(tmp_path / "critiques.csv", index=False)
    # Gradual unfreezing is off: on this made-up task the demo's plan (4 phases of 128 steps) ends near 0.6 with any LM,
    # the English one included, while training every layer from the start reaches 1.0 (README, "Which lever moves it").
    run("train", "--data", tmp_path / "critiques.csv", "--text-col", "texte", "--label-col", "avis",
        "--pretrained", french_lm / "lm_fr", "--set", "bidirectional=false", "--set", "gradual_unfreezing=false",
        "--preset", "demo", "--out", tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["négatif", "positif"]
    assert metrics["fwd"]["test"]["accuracy"] >= 0.9, metrics["fwd"]["test"]   # sentiment words any model can learn
    classifier = Classifier.load(tmp_path / "run" / "classifier_fwd")
    assert classifier.vocab.kind == "sentencepiece"
    assert (tmp_path / "run" / "report.html").is_file()
    new = reviews(30, seed=3)
    new[["texte"]].to_csv(tmp_path / "nouvelles.csv", index=False)
    run("predict", "--model", tmp_path / "run", "--data", tmp_path / "nouvelles.csv", "--text-col", "texte",
        "--out", tmp_path / "predictions.csv")
    predicted = pd.read_csv(tmp_path / "predictions.csv")
    assert len(predicted) == 30 and set(predicted.prediction) <= {"positif", "négatif"}
    assert (predicted.prediction == new.avis).mean() >= 0.9   # the same pieces at prediction as in training
