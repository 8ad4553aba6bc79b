"""What a theme is called: its keywords by class-based TF-IDF (c-TF-IDF) over Chinese words, and its most central
sentences.

jieba cuts the sentences into words; a word counts when it has two characters or more and is not a stop word
or a number. Every theme (noise buckets included) is one class: a word's weight in a theme is its share of the
theme's words times log(1 + A / f), A the mean number of words per class and f the word's count over all
classes, so the words of one theme rank above the words every theme uses (公安机关, 警民关系).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Sequence

import numpy as np

from pcc.structure import without_enumeration

KEYWORDS = 6  # per theme
NAME_WORDS = 3  # keywords in a theme's name
CENTRAL = 3  # sentences shown as a theme's most central
# Words that say nothing about what a sentence is about: connectives, hedges, verbs of every argument.
STOP_WORDS = frozenset("""
一些 一定 一方面 另一方面 一是 二是 三是 四是 五是 其次 首先 最后 再次 同时 此外 另外 因此 所以 因为 由于 但是 然而 而且 并且
以及 或者 还是 如果 虽然 尽管 甚至 只有 只要 不仅 而是 就是 也是 都是 还有 没有 不能 不会 不够 不断 进一步 较为 比较 非常
十分 更加 越来越 以来 以后 以前 之后 之前 之间 其他 各种 各类 各级 主要 重要 有效 有关 相关 方面 问题 原因 对策 措施 建议 存在 出现 进行 开展 加以 予以 通过 对于 关于 根据
按照 其中 这些 那些 这个 那个 这种 那种 这样 我们 他们 自己 本文 笔者 当前 目前 现在 近年来 新时期 新形势 情况 工作 实际
能够 可以 需要 应该 应当 必须 要求 作为 成为 具有 认为 表现 导致 造成 使得 形成 影响 部分 一部分 少数 不少 许多 很多 大量
""".split())
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading messages are not the user's business
    return jieba


def words(texts: Sequence[str]) -> list[list[str]]:
    """The counted words of each sentence (list markers dropped first)."""
    cut = _jieba().lcut
    return [[w for w in cut(without_enumeration(text)) if len(w) >= 2 and _WORD.search(w) and w not in STOP_WORDS]
            for text in texts]


def keywords(classes: Sequence[Counter], top: int = KEYWORDS) -> list[list[str]]:
    """The `top` words of each class by c-TF-IDF; a word inside a higher-ranked one of the class is skipped."""
    totals = Counter()
    for counts in classes:
        totals.update(counts)
    sizes = [sum(counts.values()) for counts in classes]
    average = sum(sizes) / max(len([s for s in sizes if s]), 1)
    chosen = []
    for counts, size in zip(classes, sizes):
        score = {word: count / size * np.log(1 + average / totals[word]) for word, count in counts.items()}
        picked: list[str] = []
        for word in sorted(score, key=lambda w: (-score[w], w)):
            if not any(word in other or other in word for other in picked):
                picked.append(word)
            if len(picked) == top:
                break
        chosen.append(picked)
    return chosen


def central(points: np.ndarray, members: np.ndarray, top: int = CENTRAL) -> list[int]:
    """The `top` members nearest the mean of the members (`points`: unit vectors), nearest first."""
    if len(members) == 0:
        return []
    centre = points[members].mean(axis=0)
    order = np.argsort(-(points[members] @ centre), kind="stable")
    return [int(members[i]) for i in order[:top]]
