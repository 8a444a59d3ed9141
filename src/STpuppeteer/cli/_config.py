"""The config a command runs: from --config, --preset or --model, with --difficulty, --architecture and more."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from STpuppeteer.cli._errors import UserError

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["MODELS", "PRESETS", "add_config_args", "add_dask_args", "cmd_config", "load_config"]

PRESETS = ("default", "xenium", "merscope", "cosmx", "breast_programs", "xenium_breast", "merscope_io", "cosmx_1k",
           "xenium_prime_5k")
# tissue.architecture's names (config/architecture.py: ArchitectureKind), kept here so --help needs no import.
ARCHITECTURES = ("glands", "tumour", "cortex")
# The expression models, and the preset each starts from when no --preset or --config is given
# (the table model has none: its configs come from data, e.g. from `stpuppeteer fit`).
MODELS = {"priors": "default", "programs": "breast_programs", "table": None}


def load_config(args: argparse.Namespace) -> SimulationConfig:
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.config.difficulty import apply_difficulty
    from STpuppeteer.config.presets import PANEL_PRESETS, PROGRAM_PRESETS, merge_overrides

    overrides: dict[str, Any] = {}
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "n_cells", None) is not None:
        overrides["n_cells"] = args.n_cells
    if getattr(args, "architecture", None) is not None:
        overrides["tissue"] = {"architecture": args.architecture}
    if getattr(args, "difficulty", None) is not None and not getattr(args, "config", None):
        overrides["difficulty"] = args.difficulty
    model = getattr(args, "model", None)
    difficulty = getattr(args, "difficulty", None)
    if getattr(args, "config", None):
        path = Path(args.config)
        if not path.is_file():
            msg = f"--config {path}: no such file."
            raise UserError(msg)
        base = SimulationConfig.from_yaml(path)
        if difficulty is not None:
            # The level replaces the file's values of its knobs, as it replaces a preset's.
            config = SimulationConfig.model_validate(
                apply_difficulty({**overrides, "difficulty": difficulty}, base=base.model_dump())
            )
        else:
            config = SimulationConfig.model_validate(merge_overrides(base.model_dump(), overrides))
    else:
        preset = getattr(args, "preset", None) or MODELS[model or "priors"]
        if preset is None:
            msg = (f"--model {model}: the table model has no preset; give a config with a gene_table "
                   "(`stpuppeteer fit` writes one) with --config.")
            raise UserError(msg)
        if preset == "default":
            config = SimulationConfig(**overrides)
        else:
            config = SimulationConfig.from_preset(preset, **overrides)
    if model is not None and config.expression_model != model:
        source = f"--config {args.config}" if getattr(args, "config", None) else f"--preset {args.preset}"
        hint = ("a table config has a gene_table" if model == "table"
                else f"the presets of the program model: {[*PROGRAM_PRESETS, *PANEL_PRESETS]}")
        msg = f"--model {model}: {source} is a config of the {config.expression_model} model ({hint})."
        raise UserError(msg)
    return config


def cmd_config(args: argparse.Namespace) -> int:
    """``stpuppeteer config``: print the chosen config, every field commented."""
    from STpuppeteer.config.commented import commented_yaml

    config = load_config(args)
    source = f"config: {args.config}" if args.config else f"preset: {args.preset or MODELS[args.model or 'priors']}"
    header = (
        f"STpuppeteer config ({config.expression_model} model, {source}). Edit and run:\n"
        "  stpuppeteer simulate --config THIS.yaml --out DIR"
    )
    sys.stdout.write(commented_yaml(config, header=header))
    return 0


def add_config_args(parser: argparse.ArgumentParser, *, default_preset: str | None = None) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE.yaml", help="a config file (see `stpuppeteer config`)")
    source.add_argument("--preset", choices=PRESETS, default=default_preset, help="a platform preset")
    parser.add_argument(
        "--model", choices=tuple(MODELS),
        help="expression model: 'priors' (the seed's gamma priors, cell types ct_k), 'programs' (gene programs, "
             "named cell types; default preset breast_programs) or 'table' (μ and θ per gene and cell type, as "
             "`stpuppeteer fit` writes them; with --config)",
    )
    parser.add_argument(
        "--difficulty", choices=("easy", "medium", "hard"),
        help="a rung of the difficulty ladder over the preset or config: more and closer cell types, rarer types, "
             "weaker markers, more leakage and ambient, more crowding (docs/presets.md, 'Difficulty ladder')",
    )
    parser.add_argument(
        "--architecture", choices=ARCHITECTURES,
        help="a named tissue architecture in place of the spatial pattern: glands (epithelium lining lumens), "
             "tumour (nests with immune cells at the margin and inside) or cortex (curved layers); roles come from "
             "the cell types' names (docs/model_tissue.md, 'Named architectures')",
    )
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--n-cells", type=int, help="override the number of cells")


def add_dask_args(parser: argparse.ArgumentParser) -> None:
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument("--workers", type=int, metavar="N",
                      help="run the cell blocks on a local Dask cluster of N processes (needs dask[distributed])")
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="run the cell blocks on a running Dask scheduler, e.g. tcp://host:8786")
