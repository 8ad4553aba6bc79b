"""Sentence-form rules: imperatives propose, definitions/statistics/metadata/significance are other."""
from __future__ import annotations

import re

from training.labeling.candidates import Candidate
from training.labeling.context import context_class
from training.labeling.lf_cues import worsening_mentioned
from training.labeling.heading_vocabulary import ACTION_VERBS, prescribes_action
from training.labeling.lf import ABSTAIN, labeling_function

_ACTION = "|".join(ACTION_VERBS)
# A modal at the start of a clause (after at most a short subject) followed by what to do.
_IMPERATIVE = re.compile(
    rf"(?:^|[，,；;：:。])[^，,；;：:。]{{0,10}}?(?<![重主只想不纲概相反适对响供答效])"
    rf"(?:要求(?=我们|各级|公安|民警|警察)|要(?![求的素点害])|应当|应该|应(?![对用有])|必须|务必|需要(?!的)|亟需|亟待)"
    rf"[^，,；;。]{{0,6}}?(?:{_ACTION}|把|将|从|以|在|对|通过|采取|做到|使|让|为)")
# A bare modal opening a clause, whatever the verb: "要选优配强村党组织书记".
_BARE_MODAL = re.compile(r"(?:^|[，,；;：:。])(?:要(?![求的素点害是])|应当|必须|务必)[\u4e00-\u9fff]")
# An actor that can be told what to do, then 可以: "警察部门可以组织…" suggests; "建设可以帮助…" does not.
_ACTOR_CAN = re.compile(r"(?:部门|机关|公安局|派出所|政府|单位|民警|警察|干警|我们|各级|领导)(?:可以|可|应该|需)"
                        rf"[^，,；;。]{{0,6}}?(?:{_ACTION}|通过|组织|利用|借助|采取|设立|开通)")
_ONLY_THEN = re.compile(r"只有.{1,40}?才(?:能|可以|会)")
_IMPORTANCE = re.compile(r"必要性|意义|重要性|作用|是.{0,20}(?:基础|关键|保障|前提|途径|举措|要求)")

_DEFINITION = re.compile(r"是指|指的是|所谓|就是指|的内涵|的含义|定义为|概念是|(?:关系|概念)就是")
_STATISTIC = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万|亿|个百分点|人次|起)|据.{1,30}(?:统计|报告|调查|显示|数据)"
                        r"|(?:统计|调查)(?:显示|表明)")
_METADATA = re.compile(r"^\s*[\[【(（]?\s*(?:关\s*键\s*词|摘\s*要\s*[\]】)）:：]?\s*$|基\s*金\s*项\s*目|作\s*者(?:简\s*介)?|中\s*图\s*分\s*类\s*号"
                       r"|文\s*献\s*标\s*识\s*码|文\s*章\s*编\s*号|收\s*稿\s*日\s*期|参\s*考\s*文\s*献|DOI|Abstract|Key\s*words)"
                       r"|^\s*\[\d+\]|(?:大学|学院|研究所|公安局|出版社)\s*[，,]?\s*\S{0,10}\s*\d{6}|\d{4}\s*年第?\s*\d+\s*期")
_SIGNIFICANCE = re.compile(r"有利于|有助于|具有.{0,12}意义|重要意义|重大意义|重要作用|重要保障|重要基础|重大举措|重要途径"
                           r"|是.{0,30}(?:基础|关键|核心|本质要求|重要内容)")
_META_TEXT = re.compile(r"本文|笔者|拙文|本报告|本研究|本章|论文首先|文章基于|第[一二三四五六七八九十]章|谈一些|作一些|试就|以期|以共同探讨|探讨如下")
_GOOD_PRACTICE = re.compile(r"(?:近年来|近几年|以来|去年|今年).{0,30}(?:开展了|组织了|推出了|建立了|取得了|得到了)")


# A directive reported from elsewhere ("会议强调要……", "十八大提出：要……"): background, not the author's proposal.
_REPORTED_DIRECTIVE = re.compile(r"(?:强调|指出|提出|号召|部署|明确)[：:，,]?\s*[“\"]?(?:要|应|必须)")


@labeling_function()
def imperative(c: Candidate):
    """要/应/必须/需要 (or an actor + 可以) followed by what to do tells the reader what to do, unless it reports
    someone else's directive ("会议强调要……")."""
    if _IMPORTANCE.search(c.body) or _REPORTED_DIRECTIVE.search(c.body):
        return ABSTAIN
    found = _IMPERATIVE.search(c.body) or _BARE_MODAL.search(c.body) or _ACTOR_CAN.search(c.body)
    return "countermeasure" if found else ABSTAIN


@labeling_function()
def action_opening(c: Candidate):
    """A sentence or item opening with an action verb (加强/完善…) prescribes it, unless its section or list
    announces another job ("具有以下必要性：… 2.提高警察执法能力")."""
    if _IMPORTANCE.search(c.body) or context_class(c) not in (None, "countermeasure"):
        return ABSTAIN
    return "countermeasure" if prescribes_action(c.body) else ABSTAIN


@labeling_function()
def only_then(c: Candidate):
    """"只有…才能…" states a condition that must be met: a requirement."""
    return "countermeasure" if _ONLY_THEN.search(c.text) else ABSTAIN


@labeling_function()
def definition(c: Candidate):
    """A definition (是指, 所谓, 的内涵) explains a term: other."""
    return "other" if _DEFINITION.search(c.text) else ABSTAIN


@labeling_function()
def statistic(c: Candidate):
    """Figures (percentages, 万/亿, 据…统计) report facts: other; figures of a growing harm ("投诉……同比增长")
    are left to the problem rules."""
    if worsening_mentioned(c.text):
        return ABSTAIN
    return "other" if _STATISTIC.search(c.text) else ABSTAIN


@labeling_function()
def metadata(c: Candidate):
    """Keywords, abstract, fund, author, classification lines and references are other."""
    return "other" if _METADATA.search(c.text) else ABSTAIN


@labeling_function()
def significance(c: Candidate):
    """Statements of importance or benefit (有利于, 重要意义, 是…的基础) are other (guideline rule 4)."""
    return "other" if _SIGNIFICANCE.search(c.text) else ABSTAIN


@labeling_function()
def meta_text(c: Candidate):
    """The author speaking about the paper (本文, 笔者, 谈一些认识) is other."""
    return "other" if _META_TEXT.search(c.text) else ABSTAIN


@labeling_function()
def good_practice(c: Candidate):
    """A report of what was already done (近年来…开展了) is other (guideline rule 5)."""
    return "other" if _GOOD_PRACTICE.search(c.text) else ABSTAIN


_COPULA = re.compile(r"^[^，。；]{2,30}?(?:都|也|就|正|乃|即)?是[^，。；]{2,40}的[^，。；]{1,12}(?:[，；][^。]*)?。?$")


@labeling_function()
def copula_description(c: Candidate):
    """"X是…的Y" describes what something is; without a modal or a negative it is background: other."""
    if c.is_heading or c.enumerator is not None or re.search(r"要|应|必须|需要|不|没有|缺|难", c.text):
        return ABSTAIN
    return "other" if _COPULA.search(c.text) else ABSTAIN
