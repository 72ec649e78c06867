"""fitlam.interpret without a browser: intrinsic attention and the concat-pooling view on a tiny classifier
(one score per token, padding-invariant, consistent with predict), and the HTML they render to."""
import numpy as np
import pytest
import torch

from fitlam.classifier import Classifier, build_classifier, classifier_config, predict_ids
from fitlam.core import FitlamError, load_preset, seed_everything
from fitlam.widgets import attention_explorer
from fitlam.interpret import (attention_html, classify_embeddings, explain, intrinsic_attention,
                              intrinsic_scores, pad_right, pooling_attention, pooling_scores, score_colour, text_tokens)
from fitlam.loaders import Labels
from fitlam.tokenize import Vocab

WORDS = "the a film movie was is good bad great awful boring wonderful plot acting i it and but not very".split()
TEXTS = ["The film was great and the acting wonderful.", "Boring.",
         "I did not like it: the plot was awful, the acting bad, and it was very, very boring. " * 3]


def tiny_classifier(max_len=16, backwards=False, seed=0) -> Classifier:
    seed_everything(seed)
    vocab = Vocab.build([WORDS + [".", ",", ":", "xxmaj"]], max_vocab=100, min_freq=1)
    model = build_classifier(classifier_config(len(vocab), 2, load_preset("quick", max_len=max_len), backwards=backwards))
    return Classifier(model.eval(), vocab, Labels(["neg", "pos"]))


@pytest.fixture(scope="module")
def clf():
    return tiny_classifier()


def test_forward_from_embeddings_matches_the_model(clf):
    docs = [text_tokens(clf, t)[1] for t in TEXTS]
    ids, lengths = pad_right(docs, clf.model.bpt3c.pad_idx)
    with torch.no_grad():
        logits = classify_embeddings(clf.model, clf.model.encoder.embedding(ids), lengths)[0]
    np.testing.assert_allclose(logits.softmax(-1).numpy(), predict_ids(clf.model, docs)[1], atol=1e-5)


@pytest.mark.parametrize("method", [intrinsic_attention, pooling_attention])
def test_one_score_per_token(clf, method):
    for text in TEXTS:
        tokens, scores = method(clf, text)
        assert tokens[0] == "xxbos" and len(scores) == len(tokens)
        assert np.isfinite(scores).all() and scores.min() >= 0


def test_intrinsic_is_normalised_and_deterministic(clf):
    _, scores = intrinsic_attention(clf, TEXTS[0])
    assert scores.max() == 1.0
    np.testing.assert_array_equal(scores, intrinsic_attention(clf, TEXTS[0])[1])
    assert clf.model.training is False   # the mode is restored


@pytest.mark.parametrize("scores_of", [intrinsic_scores, pooling_scores])
def test_scores_are_invariant_to_padding(clf, scores_of):
    # the short texts are padded when explained with the long one; alone they are not
    _, batched, batched_probs = scores_of(clf, TEXTS)
    for i, text in enumerate(TEXTS):
        _, alone, alone_probs = scores_of(clf, [text])
        np.testing.assert_allclose(batched[i], alone[0], atol=1e-5)
        np.testing.assert_allclose(batched_probs[i], alone_probs[0], atol=1e-6)


def test_pooling_shares_sum_to_one_and_cover_only_kept_tokens(clf):
    tokens, shares = pooling_attention(clf, TEXTS[2])
    assert len(tokens) > 16
    assert shares.sum() == pytest.approx(1.0)
    assert shares[:-16].sum() == 0            # only the last max_len tokens are pooled
    # intrinsic attention reaches the earlier tokens through the hidden state
    assert intrinsic_attention(clf, TEXTS[2])[1][:-16].sum() > 0


def test_backwards_classifier_scores_are_in_text_order():
    clf = tiny_classifier(max_len=4, backwards=True)
    tokens, shares = pooling_attention(clf, TEXTS[0])
    assert shares[:4].sum() == pytest.approx(1.0) and shares[4:].sum() == 0   # it pools the text's first tokens


def test_explain_matches_predict_and_leaves_gradients_alone(clf):
    clf.model.zero_grad(set_to_none=True)
    for method in ("intrinsic", "pooling"):
        result = explain(clf, TEXTS[0], method)
        assert set(result) == {"tokens", "scores", "label", "prob", "method"} and result["method"] == method
        table = clf.predict(TEXTS[0])
        assert result["label"] == table.prediction[0]
        assert result["prob"] == pytest.approx(table[f"prob_{result['label']}"][0], abs=1e-5)
    assert all(q.grad is None for q in clf.model.parameters())
    with pytest.raises(FitlamError, match="unknown attention method"):
        explain(clf, TEXTS[0], "lime")
    with pytest.raises(FitlamError, match="no text to explain"):
        explain(clf, "  ")


def test_attention_html_is_self_contained_with_a_legend():
    page = attention_html(["xxbos", "<script>", "good"], [0.0, 0.5, 1.0], label="pos", prob=0.75, title="t")
    assert page.count('<span title="') == 3
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page and "url(" not in page and "<style" not in page and "class=" not in page
    assert "predicted: <b>pos</b> (probability 0.75)" in page
    assert "importance:" in page and page.count("min-width:34px") == 6       # the legend's six swatches
    assert score_colour(1.0) == ("#08306b", "#ffffff") and score_colour(0) == ("#f7fbff", "#000000")
    with pytest.raises(FitlamError, match="one score per token"):
        attention_html(["a", "b"], [1.0])


def test_attention_explorer_widget(clf):
    explorer = attention_explorer(clf, TEXTS)
    pick, box, how, view = explorer.children
    first = view.value
    assert "predicted:" in first
    how.value = "pooling"
    assert view.value != first
    assert "concat pooling · review 1" in view.value                         # the title names the method
    pick.value = TEXTS[1]
    assert box.value == TEXTS[1] and "boring" in view.value.lower() and "review 2" in view.value
    box.value = "not good"                   # your own text: the dropdown lets go, so review 2 can be picked again
    assert pick.value is None and "your text" in view.value
    pick.value = TEXTS[1]
    assert box.value == TEXTS[1]
    box.value = ""
    assert "type a review" in view.value


def test_attention_explorer_without_ipywidgets(clf, monkeypatch):
    import builtins
    real_import = builtins.__import__
    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets": raise ImportError("no ipywidgets here")
        return real_import(name, *args, **kwargs)
    shown = []
    monkeypatch.setattr(builtins, "__import__", no_widgets)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert attention_explorer(clf, TEXTS) is None
    assert len(shown) == 1 and "predicted:" in shown[0].data
