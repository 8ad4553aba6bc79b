from pcc.model_input import TITLE_CONTEXT, given_heading_path, heading_context, sentence_context
from pcc.records import Sentence

TITLE = "当前警民关系存在的问题及对策"


def sentence(index, text, heading_path=(), is_heading=False, title=TITLE):
    return Sentence("p", title, index, text, list(heading_path), is_heading)


def test_the_heading_path_is_joined_into_one_segment():
    assert heading_context(["一、存在的问题", "（一）警力不足"]) == "一、存在的问题 > （一）警力不足"
    assert heading_context([]) is None and heading_context(None) is None


def test_the_title_gets_the_title_marker_wherever_the_paper_repeats_it_near_its_start():
    titles = [
        sentence(0, TITLE, is_heading=True),
        sentence(1, "当前警民关系 存在的问题及对策", is_heading=True),  # extracted with a space
        sentence(1, f"浅谈{TITLE}", is_heading=True),
        sentence(2, f"{TITLE}警民关系是社会关系的重要组成部分。"),  # the first sentence run into it
    ]
    for title in titles:
        assert title.is_title and sentence_context(title) == TITLE_CONTEXT, title.text


def test_other_sentences_get_their_headings_or_nothing():
    not_titles = [
        sentence(3, TITLE, is_heading=True),  # too far from the start: a heading that quotes the title
        sentence(1, f"浅谈{TITLE}"),  # contains the title, but is a sentence that does not start with it
        sentence(0, TITLE, is_heading=True, title=""),  # no title known (a sentence given alone)
        sentence(1, "一、存在的问题", is_heading=True),
    ]
    assert not any(s.is_title for s in not_titles)
    assert sentence_context(not_titles[3]) is None
    assert sentence_context(sentence(2, "警力不足。", ["一、存在的问题"])) == "一、存在的问题"


def test_a_given_heading_path_is_a_list_of_headings_one_heading_or_nothing():
    assert given_heading_path(["一、存在的问题", " （一）信任 "]) == ["一、存在的问题", "（一）信任"]
    assert given_heading_path("二、原因") == ["二、原因"]
    assert given_heading_path(None) == given_heading_path("") == given_heading_path([]) == []
    for bad in (["一、背景", 2], ["一、背景", " "], 3, {"heading": "一、背景"}):
        assert given_heading_path(bad) is None, bad
