"""`python main.py ablate`: the ablation of the paper's Table IV with one command and one budget.

    python main.py ablate --data FILE --out DIR [--seeds 0 1 2] [--steps N] [--configs NAME ...] [train options]

Configs (``--configs``, default all that the layout allows), each trained once per seed with ``train.loop.fit``
in ``DIR/<config>/seed<k>/``:

    stgcn      ST-GCN baseline                   (train --model stgcn)
    mask       + learnable graph mask            (STF-Net w/o MCF & TDF; --no-mcf --no-tdf)
    mask_tdf   + mask + TDF                      (STF-Net w/o MCF; --no-mcf)
    mask_mcf   + mask + MCF                      (STF-Net w/o TDF; --no-tdf)
    stfnet     full STF-Net with all the layout's grains (also the last row of the grains study)
    grains<g>  full STF-Net with g grains, for every g below the layout's count (--grains g)

Every option of `main.py train` is passed through to every run (``--frames 32 --steps 2000`` ...), except the
ones that choose the variant (``--model``, ``--no-mask``, ``--no-mcf``, ``--no-tdf``, ``--grains``); ``--seed``
is an alias of ``--seeds`` and ``--resume`` is implied. Without ``--steps`` or ``--epochs`` every run follows the
schedule `main.py train` chooses for the data; without ``--mirror`` the mirror check of `main.py train` runs
once (in ``DIR/mirror-check``) and its outcome is passed to every run. Each run's config is built by parsing its
own `main.py train` command, so the command written beside it in the report is the one that ran.

Resuming: run the same command again. A run whose ``last.pt`` is at the final epoch is skipped, an interrupted
one resumes from its ``last.pt``; a folder holding a run with other settings stops the ablation with an error
instead of being mixed into the table. The report (``DIR/ablation.md`` and ``DIR/ablation.json``, see
``train.analysis.ablation_report``) is rewritten after every run, so a long ablation can be read while it goes on.
Parameters and CPU latency are measured first, before training keeps the machine busy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.model import count_parameters, interleaved_latency
from stfnet.checkpoint import load_checkpoint
from stfnet.errors import UserError
from stfnet.layouts import Layout
from stfnet.model import STFNet
from train import loop
from train.analysis.ablation_report import Cost, Row, RunResult, write_report
from train.data.format import class_names, load_dataset

# Options of `main.py train` that ablate sets itself, per config or per run, or writes explicitly.
OWN_OPTIONS = {"help", "data", "out", "seed", "model", "no_mask", "no_mcf", "no_tdf", "grains", "resume", "frames"}
# Settings that may differ between invocations without changing what a run computes.
INCIDENTAL_SETTINGS = {"data", "out", "resume", "workers", "device"}

History = list[dict[str, float]]
# The model settings' defaults in the form checkpoints store them (tuples as lists), for runs older than a setting.
MODEL_DEFAULTS = loop._config_summary(loop.TrainConfig(data="", out=""))["model"]


@dataclass(frozen=True)
class Variant:
    name: str  # folder name and --configs value
    label: str  # row label, after the paper's Table IV
    flags: tuple[str, ...]  # `main.py train` flags that select it


def variants(num_grains: int) -> list[Variant]:
    """The rows of Table IV for a layout with ``num_grains`` grains (joints included), in table order."""
    rows = [
        Variant("stgcn", "ST-GCN (baseline)", ("--model", "stgcn")),
        Variant("mask", "+ graph mask (STF-Net w/o MCF & TDF)", ("--no-mcf", "--no-tdf")),
        Variant("mask_tdf", "+ mask + TDF (STF-Net w/o MCF)", ("--no-mcf",)),
        Variant("mask_mcf", "+ mask + MCF (STF-Net w/o TDF)", ("--no-tdf",)),
        Variant("stfnet", f"STF-Net, {num_grains} grains", ()),
    ]
    rows += [Variant(f"grains{g}", f"STF-Net, {g} grain{'s' if g > 1 else ''}", ("--grains", str(g)))
             for g in range(1, num_grains)]
    return rows


@dataclass
class Run:
    variant: Variant
    seed: int
    folder: Path
    argv: list[str]  # `main.py train` arguments of this run
    config: loop.TrainConfig
    plan: loop.RunPlan  # splits, preprocessing and schedule fit() will use

    @property
    def epochs(self) -> int:
        return self.plan.schedule.epochs


# --- command lines ------------------------------------------------------------------------------------------------

def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py train")
    loop.add_arguments(parser)
    return parser


def passthrough_argv(args: argparse.Namespace) -> list[str]:
    """The `main.py train` options the user changed from their defaults, as command-line arguments."""
    argv: list[str] = []
    # argparse has no public list of a parser's options; _actions is the long-stable way to walk them.
    for action in train_parser()._actions:
        if action.dest in OWN_OPTIONS or not action.option_strings:
            continue
        value, default = getattr(args, action.dest), action.default
        if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
            value, default = list(value), list(default)
        if value == default:
            continue
        option = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(option if value else "--no-" + option[2:])
        elif action.nargs == 0:  # a store_true flag
            argv.append(option)
        elif isinstance(value, (list, tuple)):
            argv += [option, *(str(v) for v in value)]
        else:
            argv += [option, str(value)]
    return argv


def command(argv: list[str]) -> str:
    return shlex.join(["python", "main.py", *argv])


def budget_argv(args: argparse.Namespace) -> list[str]:
    """The options every run shares: the budget first, then everything passed through."""
    return ([] if args.frames is None else ["--frames", str(args.frames)]) + passthrough_argv(args)


def ablate_command(args: argparse.Namespace, configs: list[str]) -> str:
    """The `main.py ablate` command that trains ``configs`` with this budget (one row: reproduces it alone)."""
    return command(["ablate", "--data", str(args.data), "--out", str(args.out), "--configs", *configs,
                    "--seeds", *(str(s) for s in args.seeds), *budget_argv(args)])


# --- planning -----------------------------------------------------------------------------------------------------

def _check_options(args: argparse.Namespace) -> None:
    chosen = [flag for flag, on in (("--model", args.model != "stfnet"), ("--no-mask", args.no_mask),
                                    ("--no-mcf", args.no_mcf), ("--no-tdf", args.no_tdf),
                                    ("--grains", args.grains is not None)) if on]
    if chosen:
        raise UserError(f"ablate chooses the model variant per config, so {', '.join(chosen)} cannot be given: "
                        f"pick rows with --configs instead")
    if not args.seeds or len(set(args.seeds)) != len(args.seeds):
        raise UserError("--seeds needs one or more different seeds, e.g. --seeds 0 1 2")
    if any(n is not None and n < 1 for n in (args.epochs, args.steps)) or args.latency_repeats < 1:
        raise UserError("--epochs, --steps and --latency-repeats must be at least 1")


def plan(args: argparse.Namespace, data: dict[str, Any]) -> tuple[Layout, list[Run]]:
    """The runs to do, in table order then seed order, each with the config its train command parses to."""
    _check_options(args)
    parser = train_parser()

    def build(variant: Variant, seed: int) -> Run:
        folder = Path(args.out) / variant.name / f"seed{seed}"
        argv = ["--data", str(args.data), "--out", str(folder), *variant.flags, "--seed", str(seed),
                *budget_argv(args)]
        config = dataclasses.replace(loop.config_from_args(parser.parse_args(argv), data), resume=True)
        return Run(variant, seed, folder, argv, config, loop.plan_run(config, data))

    # Every run shares the data and so the layout; the layout decides which grain rows exist.
    layout = loop._resolve_layout(build(variants(1)[0], args.seeds[0]).config, data)
    available = {v.name: v for v in variants(layout.num_grains)}
    unknown = [name for name in args.configs or [] if name not in available]
    if unknown:
        raise UserError(f"unknown config(s) {', '.join(unknown)} for layout '{layout.name}' "
                        f"({layout.num_grains} grains): choose from {', '.join(available)}")
    chosen = [v for v in available.values() if not args.configs or v.name in args.configs]
    if args.mirror is None:  # decided once, on the full model, then written into every run's command
        check = dataclasses.replace(build(available["stfnet"], args.seeds[0]).config, out=str(args.out))
        args.mirror = loop.choose_mirror(check, data)[0]
    return layout, [build(v, seed) for v in chosen for seed in args.seeds]


def progress_of(run: Run) -> tuple[int, History]:
    """Epochs the run's last.pt has finished and its metrics history; (0, []) before it starts.

    Raises when the folder holds a run with other settings, or one trained longer than the budget."""
    path = run.folder / "last.pt"
    if not path.is_file():
        return 0, []
    ckpt = load_checkpoint(path)
    state = ckpt.training_state or {}
    stored = {k: v for k, v in ckpt.extra.get("train_config", {}).items() if k not in INCIDENTAL_SETTINGS}
    if "model" in stored:  # a run older than a model setting ran with that setting's default
        stored["model"] = {**MODEL_DEFAULTS, **stored["model"]}
    wanted = {k: v for k, v in loop._config_summary(run.config).items() if k not in INCIDENTAL_SETTINGS}
    if stored != wanted:
        differ = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
        raise UserError(f"{run.folder} holds a run with other settings ({', '.join(differ)}): use another --out "
                        f"or remove that folder")
    return int(state.get("epoch", 0)), list(state.get("history", []))


# --- cost ---------------------------------------------------------------------------------------------------------

def _baseline_config(cfg: loop.TrainConfig) -> loop.TrainConfig:
    """The ST-GCN variant of a run's config, as `train --model stgcn` builds it."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, graph_mask=False, mcf=False, tdf=False))


def measure_cost(runs: list[Run], layout: Layout, num_classes: int, repeats: int) -> dict[str, Cost]:
    """Parameters and median CPU latency of one live-sized window (batch 1) per config, each timed in turn with
    the ST-GCN baseline, so that the ratio holds on a busy machine. Weights do not change either figure, so the
    models are built fresh."""
    configs = {run.variant.name: run.config for run in runs}
    if "stgcn" not in configs:  # the baseline is always timed: the ratios need it
        configs["stgcn"] = _baseline_config(runs[0].config)
    models = {}
    for name, cfg in configs.items():
        model_cfg = dataclasses.replace(cfg.model, layout=layout, num_classes=num_classes,
                                        in_channels=cfg.normalize.in_channels)  # as fit() builds it
        models[name] = STFNet(model_cfg).eval()
    norm = runs[0].plan.normalize
    x = torch.randn(1, norm.in_channels, norm.num_frames, layout.num_joints, norm.num_persons)  # (N, C, T, V, M)
    ms = interleaved_latency(models, x, repeats=repeats, warmup=max(1, repeats // 5), amp=False)
    return {name: Cost(parameters=count_parameters(m), latency_ms=ms[name], baseline_ratio=ms[name] / ms["stgcn"])
            for name, m in models.items()}


# --- the ablation -------------------------------------------------------------------------------------------------

def _result(run: Run, done: int, history: History) -> RunResult:
    summary_file = run.folder / "metrics.json"
    summary = json.loads(summary_file.read_text()) if done == run.epochs and summary_file.is_file() else {}
    test = summary.get("test") or {}
    validated = [h for h in history if "val_top1" in h]
    best = max(validated, key=lambda h: h["val_top1"]) if validated else None
    return RunResult(seed=run.seed, folder=str(run.folder), train_command=command(["train", *run.argv]),
                     epochs_done=done, epochs=run.epochs, top1=test.get("top1"), top5=test.get("top5"),
                     best_val_top1=best["val_top1"] if best else None, best_epoch=int(best["epoch"]) if best else None)


def _rows(args: argparse.Namespace, runs: list[Run], layout: Layout, costs: dict[str, Cost],
          progress: dict[Path, tuple[int, History]]) -> list[Row]:
    rows: dict[str, Row] = {}
    for run in runs:
        m = run.config.model
        row = rows.setdefault(run.variant.name, Row(
            name=run.variant.name, label=run.variant.label, mask=m.graph_mask, mcf=m.mcf, tdf=m.tdf,
            grains=(m.num_grains or layout.num_grains) if m.mcf else None, cost=costs[run.variant.name],
            command=ablate_command(args, [run.variant.name]), runs=[]))
        row.runs.append(_result(run, *progress[run.folder]))
    return list(rows.values())


def _context(args: argparse.Namespace, runs: list[Run], layout: Layout, data: dict[str, Any]) -> dict[str, Any]:
    """The budget and the measuring conditions, stated above the table."""
    first = runs[0].config
    norm, splits, schedule = runs[0].plan.normalize, runs[0].plan.splits, runs[0].plan.schedule
    return {
        "command": ablate_command(args, list(dict.fromkeys(r.variant.name for r in runs))),
        "data": str(args.data), "layout": layout.name, "classes": len(class_names(data)), "stream": first.stream,
        "train_split": splits.names["train"], "val_split": splits.names["val"], "test_split": splits.names["test"],
        "train_samples": len(splits.train), "val_samples": len(splits.val),
        "test_samples": len(splits.test or []), "steps": schedule.steps, "epochs": schedule.epochs,
        "frames": norm.num_frames, "batch_size": first.batch_size, "lr": first.lr, "warmup": first.warmup,
        "decay_at": list(first.decay_at), "seeds": list(args.seeds),
        "passthrough": passthrough_argv(args),
        "latency_input": [1, norm.in_channels, norm.num_frames, layout.num_joints, norm.num_persons],
        "latency_threads": torch.get_num_threads(), "latency_repeats": args.latency_repeats,
        "torch": torch.__version__,
    }


def ablate(args: argparse.Namespace) -> list[Row]:
    data = load_dataset(args.data)
    layout, runs = plan(args, data)
    progress = {run.folder: progress_of(run) for run in runs}  # checks every existing folder before training

    def finished(run: Run) -> bool:
        return progress[run.folder][0] == run.epochs

    print(f"ablate: {len(runs)} runs ({len({r.variant.name for r in runs})} configs x {len(args.seeds)} seeds), "
          f"{sum(map(finished, runs))} finished before; measuring parameters and CPU latency", file=sys.stderr,
          flush=True)
    costs = measure_cost(runs, layout, len(class_names(data)), args.latency_repeats)
    context = _context(args, runs, layout, data)
    out = Path(args.out)
    write_report(out, context, _rows(args, runs, layout, costs, progress))
    for i, run in enumerate(runs, 1):
        where = f"[ablate {i}/{len(runs)}] {run.variant.name} seed {run.seed}"
        if finished(run):
            print(f"{where}: finished before, skipped", file=sys.stderr, flush=True)
            continue
        done = progress[run.folder][0]
        state = f"resuming after epoch {done}" if done else "training"
        print(f"{where}: {state}, {run.epochs} epochs -> {run.folder}", file=sys.stderr, flush=True)
        loop.fit(run.config, data)
        progress[run.folder] = progress_of(run)
        write_report(out, context, _rows(args, runs, layout, costs, progress))
    print(f"ablate: table in {out / 'ablation.md'} and {out / 'ablation.json'}", file=sys.stderr)
    return _rows(args, runs, layout, costs, progress)


# --- command line -------------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    loop.add_arguments(parser)  # every training option, passed through to every run
    # A few options mean something else here: adding them with "resolve" drops the training ones.
    own = parser.add_argument_group("ablation", conflict_handler="resolve")
    own.add_argument("--out", required=True, help="ablation folder: DIR/<config>/seed<k>/ and the report")
    own.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0], help="seeds of every config")
    own.add_argument("--configs", nargs="+", metavar="NAME",
                     help="rows to train (default: all): stgcn mask mask_tdf mask_mcf stfnet, and grains<g> for "
                          "g below the layout's grain count (grains1 grains2 on ntu25)")
    own.add_argument("--latency-repeats", type=int, default=30, help="timed forward passes per config")
    own.add_argument("--resume", action="store_true", help="implied: finished runs are skipped, others resume")


def run(args: argparse.Namespace) -> int:
    ablate(args)
    return 0
