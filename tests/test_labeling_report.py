import numpy as np

from training.labeling.command import GoldMatch, pair_scores
from training.labeling.lf import labeling_function
from training.labeling.report import write_report


@labeling_function(name="always_other")
def always_other(c):
    """Votes other."""
    return "other"


def test_report_shows_coverage_scores_rules_errors_and_unmatched_rows(tmp_path):
    votes = np.array([[3], [3], [-1]])
    pairs = [("other", "other", "背景句。"), ("problem", "other", "信任度下降。")]
    scores = pair_scores(pairs)
    gold = GoldMatch([{"id": "S1", "text": "背景句。"}, {"id": "S2", "text": "信任度下降。"},
                      {"id": "S3", "paper": "D02", "text": "对不上的句子"}], [0, 1, None])
    config = {"model": "majority_vote", "label_abstained": True,
              "abstained_fallback": {"problem": 0.1, "cause": 0.1, "countermeasure": 0.1, "other": 0.7}}
    write_report(tmp_path, config=config, rules=[always_other], votes=votes, gold_index=np.array([3, 0, -1]),
                 estimated_accuracies=np.array([0.7]), comparison={"majority_vote": {True: scores, False: scores}},
                 gold=gold, gold_path="gold.jsonl", pairs=pairs, n_sentences=4, garbled_gold=0)
    report = (tmp_path / "labeling.md").read_text(encoding="utf-8")
    assert "**66.7%**" in report  # coverage: 2 of 3 clean sentences have a vote
    assert f"**{scores['macro_f1']:.3f}**" in report
    assert "| `always_other` | Votes other. | other | 66.7% |" in report
    assert "| problem | other | 信任度下降。 |" in report
    assert "S3 (D02): 对不上的句子" in report
    assert (tmp_path / "labeling_confusion.png").is_file()
