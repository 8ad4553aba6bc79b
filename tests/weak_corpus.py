"""A small prepared corpus with weak labels, built from real dev-gold sentences, for the training tests."""
import yaml

from pcc.records import LABELS, Sentence, read_jsonl, write_jsonl
from tests.conftest import DEV_GOLD
from training.labeling.apply import load_config
from training.labeling.weak_labels import settings_path

SECTION_OF = {"problem": ["一、存在的问题"], "cause": ["二、原因分析"], "countermeasure": ["三、对策建议"], "other": []}
SEED_FILE = "police_public_relations_papers"


def write_weak_corpus(directory, papers_from_gold=("D02", "D04", "D06", "D08"), other_papers=(5, 7)):
    """Write sentences.jsonl and weak_labels.jsonl built from real dev-gold sentences.

    Gold papers named in `papers_from_gold` hold their gold sentences (so they are dev papers); each paper
    in `other_papers` holds rewritten copies that match no gold text; one garbled sentence per paper.
    Weak labels put 0.7 on the gold class; the label settings are the shipped ones, written where `pcc label`
    writes them. Returns (sentences path, weak labels path).
    """
    gold = list(read_jsonl(DEV_GOLD))
    sentences = []

    def add(paper_id, text, label, quality="ok"):
        index = sum(s[0].paper_id == paper_id for s in sentences)
        sentences.append((Sentence(paper_id, f"论文 {paper_id}", index, text, SECTION_OF[label], quality=quality), label))

    for code in papers_from_gold:
        paper_id = f"{SEED_FILE}#{int(code[1:]):02d}"
        for row in (r for r in gold if r["paper"] == code):
            add(paper_id, row["text"], row["label"])
        add(paper_id, "警 民 关 系 和 谐 公 安 机 关 构 建", "other", quality="garbled")
    for number in other_papers:
        paper_id = f"{SEED_FILE}#{number:02d}"
        for row in gold[number * 7:number * 7 + 12]:
            add(paper_id, "另外，" + row["text"] + "此外还有其他方面。", row["label"])
        add(paper_id, "公 安 机 关 构 建 警 民", "other", quality="garbled")
    sentences_path = directory / "sentences.jsonl"
    weak_path = directory / "weak_labels.jsonl"
    write_jsonl(sentences_path, [s.to_json() for s, _ in sentences])
    write_jsonl(weak_path, [
        {**{k: v for k, v in s.to_json().items() if k != "quality"}, "label": label,
         "probs": {name: 0.7 if name == label else 0.1 for name in LABELS}, "votes": {}}
        for s, label in sentences if s.quality == "ok"
    ])
    settings_path(weak_path).write_text(yaml.safe_dump(load_config(), allow_unicode=True), "utf-8")
    return sentences_path, weak_path
