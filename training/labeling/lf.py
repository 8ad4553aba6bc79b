"""The labeling-function core: a small named rule that votes one label for a sentence or abstains.

`@labeling_function()` turns a function of a `Candidate` into a `LabelingFunction`. The core knows no rules:
the rule modules define them, `training.labeling.rules` lists the ones `pcc label` applies, in order, and
`training.labeling.apply` runs a list of them. The docstring's first line is the rule's intuition, shown in
the report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pcc.records import LABELS

# A rule's "no opinion": what a rule returns instead of a label, and what a vote matrix holds where it did
# (Snorkel's convention, which its LabelModel reads).
ABSTAIN = -1


@dataclass(frozen=True)
class LabelingFunction:
    name: str
    function: Callable
    intuition: str
    skips_titles: bool = True  # titles are judged by the title rule alone (guideline rule 3)

    def __call__(self, candidate) -> str | int:
        if self.skips_titles and candidate.is_title:
            return ABSTAIN
        vote = self.function(candidate)
        if vote != ABSTAIN and vote not in LABELS:
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
