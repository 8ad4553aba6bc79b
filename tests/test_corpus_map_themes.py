"""Themes of one category: clusters of centred vectors with a noise bucket, and the sample-and-assign path."""
import numpy as np
from sklearn.metrics import adjusted_rand_score

from serving.corpus_map.themes import NOISE, ThemeSettings, centred, find_themes


def grouped_vectors(sizes=(9, 7, 5), papers=4, outliers=2, seed=0):
    """Unit vectors around one shared direction (all sentences of a topic look alike), each group leaning its own
    way, spread over `papers` papers; plus outliers leaning ways of their own."""
    random = np.random.default_rng(seed)
    common = random.normal(size=64)
    directions = random.normal(size=(len(sizes) + outliers, 64))
    vectors, truth = [], []
    for group, size in enumerate(sizes):
        vectors += [8 * common + 3 * directions[group] + 0.4 * random.normal(size=64) for _ in range(size)]
        truth += [group] * size
    vectors += [8 * common + 3 * directions[len(sizes) + k] for k in range(outliers)]
    truth += [NOISE] * outliers
    vectors = np.array(vectors)
    paper_of = np.arange(len(vectors)) % papers
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.array(truth), paper_of


def test_groups_are_found_largest_first_and_outliers_are_noise():
    vectors, truth, papers = grouped_vectors()
    assert (vectors @ vectors.T).min() > 0.75  # nearly as alike as e5's vectors of one topic
    labels, points = find_themes(vectors, papers)
    assert list(labels) == list(truth)  # numbered from the largest, the outliers in no theme
    assert np.allclose(np.linalg.norm(points, axis=1), 1.0)


def test_a_theme_needs_its_minimum_size_and_papers():
    vectors, truth, papers = grouped_vectors(sizes=(9, 7, 2), outliers=0)
    labels, _ = find_themes(vectors, papers)
    assert set(labels[truth == 2]) == {NOISE} and set(labels[truth == 0]) == {0}
    papers = np.where(truth == 1, 9, papers)  # the second group all in one paper
    labels, _ = find_themes(vectors, papers)
    assert set(labels[truth == 1]) == {NOISE}
    labels, _ = find_themes(vectors, np.zeros(len(vectors), dtype=int))  # a map of one paper: no second paper asked
    assert adjusted_rand_score(truth, labels) == 1.0
    assert list(find_themes(vectors[:2], papers[:2])[0]) == [NOISE, NOISE]


def test_a_large_category_is_clustered_on_a_sample_and_the_rest_assigned():
    vectors, truth, papers = grouped_vectors(sizes=(60, 50, 40), outliers=0, seed=1)
    whole, _ = find_themes(vectors, papers)
    sampled, _ = find_themes(vectors, papers, ThemeSettings(max_clustered=60))
    assert adjusted_rand_score(truth, whole) == 1.0
    kept = sampled != NOISE  # a member beyond the reach of its theme's sampled members goes to the noise bucket
    assert kept.mean() > 0.9 and list(sampled[kept]) == list(whole[kept])


def test_taking_out_the_papers_direction_joins_a_theme_across_papers():
    """Two papers, each with its own angle, discuss two themes: without the paper's share taken out, the
    sentences group by paper."""
    random = np.random.default_rng(3)
    common, paper_angle, theme_angle = random.normal(size=64), random.normal(size=(2, 64)), random.normal(size=(2, 64))
    vectors, theme, paper = [], [], []
    for p in range(2):
        for t in range(2):
            for _ in range(6):
                vectors.append(8 * common + 4 * paper_angle[p] + 2.5 * theme_angle[t] + 0.3 * random.normal(size=64))
                theme.append(t)
                paper.append(p)
    vectors = np.array(vectors) / np.linalg.norm(vectors, axis=1, keepdims=True)
    paper, theme = np.array(paper), np.array(theme)
    by_paper, _ = find_themes(vectors, paper, ThemeSettings(paper_weight=0.0, threshold=0.6, min_papers=1))
    assert adjusted_rand_score(paper, by_paper) == 1.0
    assert set(find_themes(vectors, paper, ThemeSettings(paper_weight=0.0, threshold=0.6))[0]) == {NOISE}  # one paper each
    by_theme, _ = find_themes(vectors, paper, ThemeSettings(paper_weight=1.0, threshold=0.6))
    assert adjusted_rand_score(theme, by_theme) == 1.0
    assert np.allclose(centred(vectors, paper, 0.0).mean(axis=0), 0.0, atol=0.02)
