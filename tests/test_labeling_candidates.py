from pcc.records import Sentence
from training.labeling.candidates import build_candidates


def paper(texts, paper_id="p#01", title="论题", headings=()):
    """One paragraph a sentence, as a paper with its lines apart."""
    return [Sentence(paper_id, title, i, t, is_heading=i in headings, paragraph=i + 1) for i, t in enumerate(texts)]


def test_body_drops_the_marker_and_title_is_recognised_near_the_start_only():
    sentences = paper(["论题", "（一）重管理轻服务。", "论题"], headings={0, 1, 2})
    first, item, _ = build_candidates(sentences)
    assert first.is_title and not item.is_title
    assert item.enumerator == "（一）" and item.body == "重管理轻服务。"
    late = build_candidates(paper(["甲。", "乙。", "丙。", "论题"]))[3]
    assert not late.is_title


def test_neighbours_come_from_the_same_paper_by_index_and_skip_far_ones():
    sentences = paper(["甲。", "乙。"]) + paper(["丙。"], paper_id="p#02")
    sentences.append(Sentence("p#01", "论题", 9, "远处。"))
    shuffled = [sentences[3], sentences[2], sentences[1], sentences[0]]
    far, other_paper, second, first = build_candidates(shuffled)
    assert first.next.text == "乙。" and second.previous.text == "甲。"
    assert second.next is None and far.previous is None  # index 1 → 9: too far apart
    assert other_paper.previous is None and other_paper.next is None


def test_list_items_inherit_the_announcement_until_the_list_restarts():
    sentences = paper([
        "因此，加强警察公共关系建设，具有以下必要性：1.促进社会的和谐稳定。",
        "当公众充满信任时，执法更容易。",
        "2.提高警察执法能力和形象。",
        "二、原因分析",
        "1.体制不顺。",
        "2.经费不足。",
    ], headings={2, 3})
    cands = build_candidates(sentences)
    assert cands[0].list_announcement == "因此，加强警察公共关系建设，具有以下必要性"
    assert cands[1].list_announcement is None
    assert cands[2].list_announcement == cands[0].list_announcement
    assert cands[4].list_announcement is None and cands[5].list_announcement is None
    assert cands[0].heading_announcements == {"2.提高警察执法能力和形象": cands[0].list_announcement}


def test_lists_opened_by_first_or_after_a_stated_problem_are_tracked():
    sentences = paper([
        "当前工作仍然存在一些不容忽视的问题。",
        "一是队伍力量薄弱。",
        "二是手段单一。",
        "针对上述问题，笔者提出以下建议：第一，加快立法进程。",
        "第二，建立经费保障机制。",
    ])
    cands = build_candidates(sentences)
    assert cands[1].list_announcement == cands[2].list_announcement == "当前工作仍然存在一些不容忽视的问题。"
    assert cands[3].list_announcement == cands[4].list_announcement == "针对上述问题，笔者提出以下建议"
