"""Settings declared once, as the fields of a dataclass with their help, and the command-line options made from
them: the one adapter of `pcc train` (`TrainConfig`) and `pcc distill` (`DistillConfig`).

transformers' HfArgumentParser does this job too; measured on these two commands, it was not taken. In their help
it lists every option of several words under two spellings (27 of `pcc train`'s 33: `--batch_size BATCH_SIZE,
--batch-size BATCH_SIZE`), gives each `--no-<name>` the help of `--<name>`, whose meaning it inverts, and shows a
true/false option as `--<name> [<NAME>]`; and it imports transformers first: `pcc distill --help` took 4.9 s with
it against 1.0 s without, on the 2-core development machine.
"""
from __future__ import annotations

import argparse
from dataclasses import Field, field, fields
from typing import Callable, get_origin, get_type_hints


def setting(default, help: str, metavar: str | None = None):
    """A field of a settings dataclass: its default (a list is copied for each instance), help and, optionally,
    the name its value has in the help."""
    metadata = {"help": help, **({"metavar": metavar} if metavar else {})}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def add_settings(parser: argparse.ArgumentParser, settings: type, note: Callable[[Field], str]) -> None:
    """An option for every field of the dataclass `settings`: `--<name>` with a value, `--<name>` / `--no-<name>`
    for a true/false one, `--<name> VALUE ...` for a list; `note(field)` ends its help. An option not given is
    None (`given_settings`)."""
    types = get_type_hints(settings)
    for option in fields(settings):
        kind = types[option.name]
        flag = "--" + option.name.replace("_", "-")
        shown = {"help": f"{option.metadata['help']} ({note(option)})", "default": None}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **shown)
        elif get_origin(kind) is list:
            parser.add_argument(flag, nargs="+", metavar=option.metadata.get("metavar"), **shown)
        else:
            parser.add_argument(flag, type=kind, metavar=option.metadata.get("metavar"), **shown)


def given_settings(args: argparse.Namespace, settings: type) -> dict:
    """Name -> value of the options of `settings` given on the command line."""
    return {option.name: getattr(args, option.name) for option in fields(settings)
            if getattr(args, option.name) is not None}

