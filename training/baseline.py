"""The reference point the fine-tuned model has to beat: TF-IDF over character n-grams + logistic regression.

It learns from the same weak labels (their most probable class, weighted by the label model's confidence).
"""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from pcc.records import LABELS


class TfidfBaseline:
    def __init__(self, seed: int = 0):
        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, random_state=seed),
        )

    def fit(self, texts: list[str], soft_labels: np.ndarray) -> "TfidfBaseline":
        soft_labels = np.asarray(soft_labels)
        self.pipeline.fit(texts, soft_labels.argmax(axis=1),
                          logisticregression__sample_weight=soft_labels.max(axis=1))
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities in LABELS order (zero for a class absent from the training labels)."""
        probs = np.zeros((len(texts), len(LABELS)))
        probs[:, self.pipeline.classes_] = self.pipeline.predict_proba(texts)
        return probs
