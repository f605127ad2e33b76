"""`python main.py bench TARGET ...`: dispatch to one benchmark module, imported only when it runs.

Each target module provides ``add_arguments(parser)`` and ``run(args) -> int``, like main.py's commands.
"""

from __future__ import annotations

import argparse
import importlib

from stfnet.errors import UserError

TARGETS: dict[str, tuple[str, str]] = {
    "model": ("benchmarks.model", "model forward latency and throughput"),
    "pipeline": ("benchmarks.pipeline", "pose-only vs full pipeline speed on a video, and frame-to-prediction latency"),
    "train": ("benchmarks.training", "training throughput"),
    "fewshot": ("benchmarks.fewshot", "few-shot accuracy and CPU time of fine-tuning a backbone, beside 1-NN"),
    "videos": ("benchmarks.videos", "clip-level accuracy of a model on labelled real videos, through the app"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (_, help_text) in TARGETS.items():
        # Everything after the target, options and --help included, goes to the target's own parser in run():
        # with no usable prefix character this parser takes "--help" as just another word for its remainder.
        target = sub.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
        target.add_argument("args", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    module_name, description = TARGETS[args.target]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UserError(f"'bench {args.target}' is not available in this version ({module_name} is missing)") from None
    parser = argparse.ArgumentParser(prog=f"main.py bench {args.target}", description=description)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.args)) or 0)
