"""Where does FitLaM beat TF-IDF at the scale this kit can train? Test accuracy against the number of labels.

One LM fine-tuning run (stage 2, on the preset's unlabelled reviews plus the texts — not the labels — of the
largest labelled set), then for each label count on the same untouched test split:

* FitLaM: the classifier fine-tuned with gradual unfreezing, discriminative rates and STLR (`train_classifier`);
* probe, stage-2 LM: logistic regression on the frozen fine-tuned encoder's concat-pooled features — how much
  sentiment the language model's features hold before the classifier adapts them;
* probe, stage-1 LM: the same on the general-English LM before fine-tuning — what stage 2 added;
* TF-IDF (1-2-grams) + logistic regression, the baseline `fitlam run` reports.

    python benchmarks/label_curve.py                      # demo preset, forward, 100/300/1000 labels
    python benchmarks/label_curve.py --labels 100,1000 --set lm_epochs=2 n_unlabelled=6000

Prints one table; with --out, also writes it as CSV. Seeded: the same command gives the same numbers on the same
machine and thread count.
"""
import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fitlam.classifier import Classifier, load_encoder_from_lm, masked_concat_pool, text_classifier, train_classifier
from fitlam.core import load_preset, seed_everything
from fitlam.data import load_task_data
from fitlam.finetune_lm import finetune_lm, starting_lm, target_corpus
from fitlam.loaders import ClassifierLoader, Labels, pad_left, sorted_batches
from fitlam.pipeline import classifier_docs, evaluate, tfidf_baseline


@torch.no_grad()
def concat_pool_features(model, docs, bs: int = 64) -> np.ndarray:
    "The head's input for every document: [last, max, mean] of the encoder's kept outputs, in eval mode."
    model.eval()
    features = None
    for batch in sorted_batches(np.array([len(doc) for doc in docs]), bs):
        _, output, pad_mask = model.bpt3c(pad_left([docs[i] for i in batch], model.bpt3c.pad_idx))
        pooled = masked_concat_pool(output, pad_mask).float().numpy()
        if features is None: features = np.zeros((len(docs), pooled.shape[1]), dtype=np.float32)
        features[batch] = pooled
    return features


def probe(train_x, train_y, test_x, test_y, seed: int) -> float:
    "Standardised features + L2 logistic regression (strong regularisation: the label sets are small)."
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(C=0.01, max_iter=5000, random_state=seed).fit(scaler.transform(train_x), train_y)
    return float(model.score(scaler.transform(test_x), test_y))


def encoder_features(lm, vocab, preset, n_classes: int, texts_by_split: dict) -> dict:
    "Concat-pooled features of each split's texts under `lm`'s encoder (a classifier whose head is never used)."
    model = text_classifier(len(vocab), n_classes, preset)
    load_encoder_from_lm(model, lm)
    return {split: concat_pool_features(model, classifier_docs(texts, vocab)) for split, texts in texts_by_split.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--labels", default="100,300,1000", help="label counts, comma-separated")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="preset overrides")
    parser.add_argument("--out", help="also write the table to this CSV file")
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.labels.split(","))
    defaults = load_preset(args.preset)
    overrides = {}
    for pair in args.set:
        key, value = pair.split("=", 1)
        kind = type(defaults[key])
        overrides[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    p = load_preset(args.preset, n_labels=max(counts), **overrides)
    task = load_task_data(p)
    labels = Labels(task["train"].label)
    test_y = labels.encode(task["test"].label)
    start = time.time()

    # Stage 1 -> 2, forward direction, exactly as `fitlam run` does it.
    lm, vocab, config = starting_lm(p)
    lm_train, lm_valid = target_corpus(task)
    tuned = finetune_lm(lm, vocab, config, lm_train, lm_valid, p, progress=False)
    m = tuned["metrics"]
    print(f"stage 2: {m['train_tokens']:,} tokens, perplexity {m['valid_perplexity_before']:.1f} -> "
          f"{m['valid_perplexity']:.1f} ({m['wall_s']:.0f}s)", flush=True)

    texts = {"train": task["train"].text, "test": task["test"].text}
    features = {"stage 2": encoder_features(tuned["model"], tuned["vocab"], p, len(labels), texts),
                "stage 1": encoder_features(lm, vocab, p, len(labels), texts)}
    train_y_all = labels.encode(task["train"].label)

    rows = []
    valid_docs = classifier_docs(task["valid"].text, tuned["vocab"])
    valid_dl = ClassifierLoader(valid_docs, labels.encode(task["valid"].label), p.clf_bs, shuffle=False)
    for n in counts:
        train = task["train"].iloc[:n]
        train_dl = ClassifierLoader(classifier_docs(train.text, tuned["vocab"]), labels.encode(train.label), p.clf_bs,
                                    shuffle=True, seed=p.seed)
        seed_everything(p.seed)
        model = text_classifier(len(tuned["vocab"]), len(labels), p)
        load_encoder_from_lm(model, tuned["model"])
        train_classifier(model, train_dl, valid_dl, p, progress=False)
        fitlam_test, _ = evaluate(Classifier(model, tuned["vocab"], labels), task["test"].text, task["test"].label)
        row = {"labels": n, "FitLaM": fitlam_test["accuracy"]}
        for name, feats in features.items():
            row[f"probe, {name} LM"] = probe(feats["train"][:n], train_y_all[:n], feats["test"], test_y, p.seed)
        row["TF-IDF + LR"] = tfidf_baseline(train.text, train.label, task["test"].text, task["test"].label,
                                            p.seed)["accuracy"]
        rows.append(row)
        print(row, flush=True)

    table = pd.DataFrame(rows).set_index("labels")
    print(f"\ntest accuracy on {len(task['test']):,} reviews (preset {p.preset}, forward direction, "
          f"{time.time() - start:.0f}s):")
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    if args.out: table.to_csv(args.out)


if __name__ == "__main__":
    main()
