"""Links from problems to causes and countermeasures: across papers by lift, within a paper by similarity."""
import numpy as np
import pytest
from scipy.stats import hypergeom

from serving.corpus_map.links import nearest_pairs, theme_links


def test_themes_found_together_more_often_than_chance_are_linked_with_their_papers():
    problems = [{0, 1, 2, 3}, {4, 5, 6, 7}]
    causes = [{0, 1, 2, 8}, {0, 4, 8, 9}, {1, 2, 5, 6, 7}]
    links = theme_links(problems, causes, "cause", papers=10)
    found = {(link.problem, link.other): link for link in links}
    assert set(found) == {(0, 0), (1, 2)}  # (0, 1) and (1, 1) share one paper; (0, 2) shares two at lift 1
    assert found[(0, 0)].papers == [0, 1, 2] and found[(0, 0)].lift == pytest.approx(3 * 10 / 16)
    assert found[(0, 0)].p_value == pytest.approx(hypergeom.sf(2, 10, 4, 4))
    assert found[(1, 2)].kind == "cause" and found[(1, 2)].papers == [5, 6, 7]
    assert theme_links([{0, 1}], [{0, 1}], "cause", papers=2) == []  # two papers, both everywhere: no lift


def test_each_problem_sentence_gets_its_papers_most_similar_cause_and_countermeasure():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9], [1.0, 0.0], [0.7, 0.7], [1.0, 0.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    categories = ["problem", "problem", "cause", "cause", "cause", "countermeasure", "problem"]
    papers = [0, 0, 0, 0, 1, 0, 2]
    pairs = nearest_pairs(vectors, categories, papers)
    assert [(p.problem, p.cause, p.countermeasure) for p in pairs] == [(0, 2, 5), (1, 3, 5), (6, None, None)]
    assert pairs[0].cause_similarity == pytest.approx(float(vectors[0] @ vectors[2]), abs=1e-4)  # not sentence 4: another paper
