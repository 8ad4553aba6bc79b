"""Theme names: c-TF-IDF keywords over jieba words, and the most central sentences."""
from collections import Counter

import numpy as np

from serving.corpus_map.naming import central, keywords, words


def test_words_are_chinese_words_without_list_markers_stop_words_or_numbers():
    cut = words(["（一）基层警力严重不足，2019年以来民警疲于应付。", "一是要加强警民沟通。"])
    assert "警力" in cut[0] and "民警" in cut[0]
    assert not any(w in ("一", "（一）", "2019", "严重", "以来") or len(w) < 2 for w in cut[0])
    assert cut[1] == ["加强", "警民", "沟通"]  # 一是 and 要 go


def test_keywords_rank_a_themes_own_words_above_the_words_every_theme_uses():
    themes = [words(["基层警力不足，民警疲于奔命。", "派出所警力紧张，警务室无人值守。", "警力不足是公安机关的难题。"]),
              words(["执法记录仪使用不规范，公安机关执法不公开。", "执法过程不透明，执法记录仪选择性记录。"]),
              words(["公安机关回应网络舆情迟缓。", "涉警舆情发酵后公安机关才回应。", "舆情处置缺乏预案。"])]
    found = keywords([Counter(w for sentence in theme for w in sentence) for theme in themes], top=3)
    assert found[0][0] == "警力" and found[1][0] == "执法" and found[2][0] == "舆情"
    assert "公安机关" not in found[0] + found[1]  # the most frequent word of all, in every theme
    assert keywords([Counter({"警力": 2, "警力不足": 1})], top=2) == [["警力"]]  # one inside the other: the first


def test_the_central_sentences_are_those_nearest_the_mean_of_the_members():
    points = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    assert central(points, np.array([0, 1, 2]), top=2) == [1, 2]
    assert central(points, np.array([], dtype=int)) == []
