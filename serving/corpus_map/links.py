"""Links from problems to causes and countermeasures, across the literature and within one paper.

Across papers: a problem theme P and a cause (or countermeasure) theme X are linked when more papers discuss
both than chance would give. With N papers, P in n_P of them, X in n_X and both in k, the lift is
k / (n_P n_X / N); the p-value is the chance of k or more shared papers if X's papers were drawn at random
(hypergeometric). A link needs `min_shared` papers and a lift above 1, and keeps the papers that show it.

Within a paper: each problem sentence is paired with the paper's cause sentence and countermeasure sentence
most similar to it (cosine of their e5 vectors), as a pointer to what the paper says about that problem.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SHARED = 2  # papers a link must be seen in


@dataclass
class Link:
    problem: int  # theme
    other: int  # cause or countermeasure theme
    kind: str  # "cause" or "countermeasure"
    papers: list[int]  # the papers that discuss both
    lift: float
    p_value: float


@dataclass
class Pair:
    problem: int  # sentence
    cause: int | None  # the most similar cause sentence of its paper, if the paper has one
    cause_similarity: float | None
    countermeasure: int | None
    countermeasure_similarity: float | None


def theme_links(problem_papers: list[set[int]], other_papers: list[set[int]], kind: str, papers: int,
                min_shared: int = MIN_SHARED) -> list[Link]:
    """Links from each problem theme (`problem_papers[i]`: the papers it is found in) to the themes of `kind`
    (`other_papers[j]`), among `papers` papers; strongest first within each problem theme."""
    from scipy.stats import hypergeom

    links = []
    for problem, found in enumerate(problem_papers):
        for other, also in enumerate(other_papers):
            shared = found & also
            if len(shared) < min_shared:
                continue
            lift = len(shared) * papers / (len(found) * len(also))
            if lift <= 1.0:
                continue
            p_value = float(hypergeom.sf(len(shared) - 1, papers, len(found), len(also)))
            links.append(Link(problem, other, kind, sorted(shared), round(lift, 3), p_value))
    links.sort(key=lambda link: (link.problem, -link.lift, -len(link.papers), link.p_value))
    return links


def nearest_pairs(vectors: np.ndarray, categories: list[str], papers: list[int]) -> list[Pair]:
    """For every problem sentence, its paper's nearest cause and countermeasure sentence (`vectors`: unit vectors
    of all mapped sentences, with their category and paper)."""
    by_paper: dict[int, dict[str, list[int]]] = {}
    for position, (category, paper) in enumerate(zip(categories, papers)):
        by_paper.setdefault(paper, {}).setdefault(category, []).append(position)
    pairs = []
    for groups in by_paper.values():
        problems = groups.get("problem", [])
        if not problems:
            continue
        nearest = {kind: _nearest(vectors, problems, groups.get(kind, [])) for kind in ("cause", "countermeasure")}
        for row, problem in enumerate(problems):
            (cause, cause_similarity), (measure, measure_similarity) = (nearest[kind][row] for kind in
                                                                        ("cause", "countermeasure"))
            pairs.append(Pair(problem, cause, cause_similarity, measure, measure_similarity))
    pairs.sort(key=lambda pair: pair.problem)
    return pairs


def _nearest(vectors: np.ndarray, sources: list[int], targets: list[int]) -> list[tuple[int | None, float | None]]:
    if not targets:
        return [(None, None)] * len(sources)
    similarity = vectors[sources] @ vectors[targets].T
    best = similarity.argmax(axis=1)
    return [(targets[b], round(float(similarity[row, b]), 4)) for row, b in enumerate(best)]
