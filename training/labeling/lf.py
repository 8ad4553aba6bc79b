"""Labeling functions: small named rules that vote one label for a sentence or abstain.

`@labeling_function()` turns a function of a `Candidate` into a `LabelingFunction`; `registered()` collects
those the rule modules define, in definition order: the rule set `pcc label` applies. The docstring's first
line is the rule's intuition, shown in the report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pcc.records import LABELS

ABSTAIN = None


@dataclass(frozen=True)
class LabelingFunction:
    name: str
    function: Callable
    intuition: str
    skips_titles: bool = True  # titles are judged by the title rule alone (guideline rule 3)

    def __call__(self, candidate) -> str | None:
        if self.skips_titles and candidate.is_title:
            return ABSTAIN
        vote = self.function(candidate)
        if vote is not ABSTAIN and vote not in LABELS:
            raise ValueError(f"labeling function {self.name} returned {vote!r}; expected one of {LABELS} or ABSTAIN")
        return vote


def labeling_function(name: str | None = None, skips_titles: bool = True):
    """Make the decorated function (named after itself unless `name` is given) a labeling function; it
    abstains on paper titles unless `skips_titles` is False."""
    def wrap(function: Callable) -> LabelingFunction:
        lf_name = name or function.__name__
        if not function.__doc__:
            raise ValueError(f"labeling function {lf_name} needs a one-line docstring saying its intuition")
        return LabelingFunction(lf_name, function, function.__doc__.strip().splitlines()[0], skips_titles)
    return wrap


def registered() -> list[LabelingFunction]:
    """Every labeling function the rule modules define, module by module in definition order."""
    from training.labeling import lf_cues, lf_form, lf_headings, lf_structure

    lfs = [value for module in (lf_headings, lf_structure, lf_cues, lf_form) for value in vars(module).values()
           if isinstance(value, LabelingFunction)]
    names = [lf.name for lf in lfs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"labeling functions share a name: {', '.join(duplicates)}")
    return lfs
