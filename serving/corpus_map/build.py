"""The corpus map of classified sentences: embed, find themes per category, name them, link them.

    sentences (problem / cause / countermeasure) ─ embed (e5, ONNX) ─ themes per category (`themes`)
        ─ names: c-TF-IDF keywords and central sentences (`naming`) ─ links (`links`) ─ CorpusMap

Each stage's wall time is kept in `CorpusMap.seconds`; `serving.corpus_map.render` writes the outputs.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pcc.structure import without_enumeration
from serving.corpus_map import links as linking
from serving.corpus_map import naming
from serving.corpus_map.inputs import CATEGORIES, MapInput
from serving.corpus_map.themes import NOISE, ThemeSettings, find_themes


@dataclass
class Theme:
    category: str
    number: int | None  # 1, 2, ... from the largest; None for the category's noise bucket
    sentences: list[int]  # positions in the map's sentences
    papers: list[int]  # the papers it is found in
    keywords: list[str] = field(default_factory=list)
    central: list[int] = field(default_factory=list)  # its most central sentences, most central first

    @property
    def id(self) -> str:
        return f"{self.category}-{self.number if self.number is not None else 'noise'}"

    @property
    def name(self) -> str:
        if self.number is None:
            return "noise (in no theme)"
        return " · ".join(self.keywords[:naming.NAME_WORDS]) or self.id


@dataclass
class CorpusMap:
    input: MapInput
    themes: list[Theme]  # by category, themes from the largest, then the category's noise bucket
    theme_of: np.ndarray  # theme (position in `themes`) of each sentence
    similarity: np.ndarray  # cosine of each sentence with its theme's centre (nan in a noise bucket)
    links: list[linking.Link]  # theme positions in `themes`
    pairs: list[linking.Pair]
    settings: ThemeSettings
    embedder: str  # what embedded the sentences
    seconds: dict[str, float]  # wall time per stage

    def themes_of(self, category: str, noise: bool = False) -> list[int]:
        return [i for i, t in enumerate(self.themes) if t.category == category and (noise or t.number is not None)]

    def years(self, theme: Theme) -> dict[int, int]:
        """Year -> papers of that year the theme is found in (papers without a year are not counted)."""
        counted = Counter(self.input.papers[p].year for p in theme.papers)
        return {year: counted[year] for year in sorted(y for y in counted if y is not None)}

    def papers_per_year(self) -> dict[int, int]:
        counted = Counter(paper.year for paper in self.input.papers if paper.year is not None)
        return dict(sorted(counted.items()))


def build_map(data: MapInput, embed: Callable[[list[str]], np.ndarray], embedder: str,
              settings: ThemeSettings = ThemeSettings(), stage: Callable[[str], None] | None = None) -> CorpusMap:
    """The map of `data`; `embed` turns texts into unit vectors (`SentenceEmbedder.embed`, or the Ray engine's);
    `stage` is told the name of each stage as it starts."""
    stage = stage or (lambda name: None)
    seconds = {}
    stage("embedding")
    started = time.perf_counter()
    vectors = embed([without_enumeration(s.text) for s in data.sentences])
    seconds["embedding"] = time.perf_counter() - started

    stage("clustering")
    started = time.perf_counter()
    papers = np.array([s.paper for s in data.sentences])
    categories = [s.category for s in data.sentences]
    themes: list[Theme] = []
    theme_of = np.full(len(data.sentences), NOISE)
    similarity = np.full(len(data.sentences), np.nan)
    spaces = {}
    for category in CATEGORIES:
        members = np.flatnonzero(np.array(categories) == category)
        if not len(members):
            continue
        labels, points = find_themes(vectors[members], papers[members], settings)
        spaces[category] = (members, points)
        for number in [*range(labels.max() + 1), NOISE]:
            chosen = members[labels == number]
            if not len(chosen):
                continue
            theme_of[chosen] = len(themes)
            themes.append(Theme(category, None if number == NOISE else number + 1, chosen.tolist(),
                                sorted(set(papers[chosen].tolist()))))
            if number != NOISE:
                centre = points[labels == number].mean(axis=0)
                similarity[chosen] = points[labels == number] @ (centre / np.linalg.norm(centre))
    seconds["clustering"] = time.perf_counter() - started

    stage("naming")
    started = time.perf_counter()
    words = naming.words([s.text for s in data.sentences])
    for theme, keywords in zip(themes, naming.keywords([Counter(w for i in t.sentences for w in words[i])
                                                        for t in themes])):
        theme.keywords = keywords
        if theme.number is not None:
            members, points = spaces[theme.category]
            local = np.searchsorted(members, theme.sentences)
            theme.central = [int(members[i]) for i in naming.central(points, local)]
    seconds["naming"] = time.perf_counter() - started

    stage("links")
    started = time.perf_counter()
    problem_themes = [i for i, t in enumerate(themes) if t.category == "problem" and t.number is not None]
    found_links = []
    for kind in ("cause", "countermeasure"):
        others = [i for i, t in enumerate(themes) if t.category == kind and t.number is not None]
        for link in linking.theme_links([set(themes[i].papers) for i in problem_themes],
                                        [set(themes[i].papers) for i in others], kind, len(data.papers)):
            link.problem, link.other = problem_themes[link.problem], others[link.other]
            found_links.append(link)
    found_links.sort(key=lambda link: (link.problem, link.kind, -link.lift, -len(link.papers)))
    pairs = linking.nearest_pairs(vectors, categories, papers.tolist())
    seconds["links"] = time.perf_counter() - started
    return CorpusMap(data, themes, theme_of, similarity, found_links, pairs, settings, embedder,
                     {stage: round(value, 3) for stage, value in seconds.items()})
