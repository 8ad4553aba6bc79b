"""Themes: the sentences of one category grouped by what they say, with a noise bucket for those that join none.

e5's vectors of sentences on one topic are all alike (cosine 0.83-0.95 between any two problem sentences of the
seed corpus), and the sentences of one paper are alike in its own angle (traffic police, campus, short video),
while a theme recurs across papers in other words. So each sentence first loses `paper_weight` of its paper's
mean vector (over the category's sentences of that paper), then all are centred on their mean and scaled back
to length 1. Average-linkage agglomerative clustering then merges groups while their mean cosine distance stays
under `threshold`; a group smaller than `min_size`, or found in fewer than `min_papers` papers (a theme recurs
across the literature), is noise. On the theme gold, taking out half of the paper's direction raised the mean
adjusted Rand index over both annotators and three categories from 0.26 to 0.37 (reports/corpus_map_quality.md).

Agglomerative clustering holds the pairwise distances, so a category of more than `max_clustered` sentences is
clustered on a seeded sample of that size, and every other sentence joins the theme whose centre is nearest if it
is at least as close as the theme's own farthest member, or the noise bucket otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE = -1


@dataclass(frozen=True)
class ThemeSettings:
    threshold: float = 0.9  # cosine distance between centred vectors under which groups merge (average linkage)
    paper_weight: float = 0.5  # share of its paper's mean vector taken from each sentence
    min_size: int = 3  # sentences of the smallest theme
    min_papers: int = 2  # papers a theme must be found in (1 when the map holds one paper)
    max_clustered: int = 5000  # sentences of one category clustered at most; the others are assigned
    seed: int = 0


def centred(vectors: np.ndarray, papers: np.ndarray, paper_weight: float) -> np.ndarray:
    """Unit vectors of `vectors` less `paper_weight` of their paper's mean, then less their mean."""
    shifted = vectors.astype(np.float32, copy=True)
    if paper_weight:
        keys, paper_of = np.unique(papers, return_inverse=True)
        sums = np.zeros((len(keys), vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, paper_of, vectors)
        shifted -= paper_weight * (sums / np.bincount(paper_of)[:, None])[paper_of].astype(np.float32)
    shifted -= shifted.mean(axis=0, keepdims=True)
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def find_themes(vectors: np.ndarray, papers: np.ndarray, settings: ThemeSettings = ThemeSettings()
                ) -> tuple[np.ndarray, np.ndarray]:
    """(theme of each sentence: 0, 1, ... from the largest, or NOISE; the centred vectors the themes were found in).
    `vectors`: unit vectors of one category's sentences; `papers`: the paper of each."""
    points = centred(vectors, papers, settings.paper_weight) if len(vectors) > 1 else vectors.copy()
    if len(points) < settings.min_size:
        return np.full(len(points), NOISE), points
    min_papers = min(settings.min_papers, len(np.unique(papers)))
    if len(points) > settings.max_clustered:
        sample = np.sort(np.random.default_rng(settings.seed).choice(len(points), settings.max_clustered,
                                                                      replace=False))
        labels = np.full(len(points), NOISE)
        labels[sample] = _clusters(points[sample], settings.threshold)
        labels = assign(points, labels, sample)
    else:
        labels = _clusters(points, settings.threshold)
    return _numbered(labels, papers, settings.min_size, min_papers), points


def _clusters(points: np.ndarray, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                   distance_threshold=threshold).fit_predict(points)


def assign(points: np.ndarray, labels: np.ndarray, clustered: np.ndarray) -> np.ndarray:
    """`labels` with every sentence outside `clustered` given the nearest theme centre, when it is at least as
    close as that theme's farthest clustered member, else NOISE."""
    themes = [theme for theme in np.unique(labels[clustered]) if theme != NOISE]
    if not themes:
        return labels
    centres = np.stack([_unit(points[clustered][labels[clustered] == theme].mean(axis=0)) for theme in themes])
    reach = np.array([(points[clustered][labels[clustered] == theme] @ centre).min()
                      for theme, centre in zip(themes, centres)])
    rest = np.setdiff1d(np.arange(len(points)), clustered)
    result = labels.copy()
    for start in range(0, len(rest), 8192):  # a block of similarities at a time: memory stays flat
        chunk = rest[start:start + 8192]
        similarity = points[chunk] @ centres.T
        best = similarity.argmax(axis=1)
        close = similarity[np.arange(len(chunk)), best] >= reach[best]
        result[chunk] = np.where(close, np.array(themes)[best], NOISE)
    return result


def _numbered(labels: np.ndarray, papers: np.ndarray, min_size: int, min_papers: int) -> np.ndarray:
    """Clusters too small or in too few papers become noise; the others are numbered from the largest."""
    kept = [label for label in np.unique(labels) if label != NOISE
            and (labels == label).sum() >= min_size and len(np.unique(papers[labels == label])) >= min_papers]
    kept.sort(key=lambda label: (-(labels == label).sum(), int(np.flatnonzero(labels == label)[0])))
    numbered = np.full(len(labels), NOISE)
    for number, label in enumerate(kept):
        numbered[labels == label] = number
    return numbered


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
