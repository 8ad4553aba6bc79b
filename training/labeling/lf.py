"""Labeling functions: small named rules that vote one label for a sentence or abstain.

`@labeling_function()` turns a function of a `Candidate` into a `LabelingFunction` and registers it, in
definition order, so `registered()` is the rule set `pcc label` applies. The docstring's first line is the
rule's intuition, shown in the report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pcc.records import LABELS

ABSTAIN = None

_REGISTRY: dict[str, "LabelingFunction"] = {}


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
    """Register the decorated function (named after itself unless `name` is given) as a labeling function;
    it abstains on paper titles unless `skips_titles` is False."""
    def register(function: Callable) -> LabelingFunction:
        lf_name = name or function.__name__
        if not function.__doc__:
            raise ValueError(f"labeling function {lf_name} needs a one-line docstring saying its intuition")
        if lf_name in _REGISTRY and _REGISTRY[lf_name].function.__qualname__ != function.__qualname__:
            raise ValueError(f"two labeling functions are named {lf_name}")
        lf = LabelingFunction(lf_name, function, function.__doc__.strip().splitlines()[0], skips_titles)
        _REGISTRY[lf_name] = lf
        return lf
    return register


def registered() -> list[LabelingFunction]:
    """Every labeling function of the rule modules, in the order they are defined."""
    from training.labeling import lf_cues, lf_form, lf_headings, lf_structure  # noqa: F401  (they register)
    return list(_REGISTRY.values())
