"""The difficulty ladder: ``difficulty="easy" | "medium" | "hard"`` as overrides of a config.

Each level sets a documented set of knobs (``docs/presets.md``, "Difficulty ladder"): how many
cell types and how closely related, how rare the rarest, how strong the markers, how much
leakage and ambient, how crowded the tissue and the optics. Pure data and pure functions, no
randomness: the same config and level always give the same overrides.

Precedence, lowest first: the defaults, a preset (or a ``--config`` file on the command line),
the level, what the caller sets explicitly. A level thus replaces a preset's platform values
(``leakage_by_gene``, ``ambient_rate_per_um2`` …), while a field given by hand beside
``difficulty`` keeps the hand's value. Two knobs of the program model transform the cell types the
config holds rather than replacing a field: related copies of the largest types and a floor under
the activations' spread; the rarest types' shares are lowered to the level's rare share. All
three are idempotent (a config read back from its own YAML is the same config).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel

from STpuppeteer.config.presets import merge_overrides

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DIFFICULTY_LEVELS", "LADDER", "Difficulty", "DifficultyRung", "apply_difficulty", "difficulty_overrides"]

Difficulty = Literal["easy", "medium", "hard"]
#: The levels, easiest first.
DIFFICULTY_LEVELS: tuple[str, ...] = get_args(Difficulty)
#: Suffix of a related copy of a program-model cell type (``"T cell related"``).
RELATED_SUFFIX = " related"


@dataclass(frozen=True)
class DifficultyRung:
    """The knobs one level sets (units as the config fields they set).

    Attributes
    ----------
    n_celltype
        Prior model: number of cell types ``ct_0 …``.
    n_markers
        Prior model: dedicated marker genes per type.
    related_pairs
        Prior model: pairs (ct_0, ct_1), (ct_2, ct_3) … sharing a block of ``shared_markers`` genes;
        program model: related copies added of the largest types.
    shared_markers
        Prior model: marker genes each related pair shares (beside their own ``n_markers``).
    marker_mu
        Prior model: mean of the marker μ prior (housekeeping genes stay at 0.2, silent ones at 0.05).
    related_activation_factor
        Program model: a related copy has its type's strongest program at this factor.
    expression_baseline
        Program model: μ0, the molecules per cell every gene has before the programs add theirs
        (higher: the marker programs stand less far above the rest of the panel).
    activation_sd
        Program model: floor under every type's spread of each program's activation.
    rare_types, rare_share
        The ``rare_types`` smallest types get at most ``rare_share`` of the cells each.
    leakage_by_gene, leak_dist_factor
        Share of molecules leaking out of their cell, and the reach of the halo.
    ambient_rate_per_um2
        Ambient molecules per µm² (``instrument.ambient_rate_per_um2``). It rises slowly: the
        assignment scores count an ambient molecule left unassigned as right, so ambient makes the
        nucleus-only baseline look better, not worse.
    nuclear_density_ratio
        Density of molecules in the nucleus over the cytoplasm
        (``transcripts.localisation.nuclear_density_ratio``; measured 0.72–1.58 per cell): lower
        puts more of a cell's molecules where a nucleus-only segmentation misses them.
    density_per_mm2
        Cells per mm² (``tissue.density_per_mm2``): smaller, more crowded cells.
    min_distance_um
        The optics' resolvable distance (``instrument.min_distance_um``): more molecules merge.
    """

    n_celltype: int
    n_markers: int
    related_pairs: int
    shared_markers: int
    marker_mu: float
    related_activation_factor: float
    expression_baseline: float
    activation_sd: float
    rare_types: int
    rare_share: float
    leakage_by_gene: float
    leak_dist_factor: float
    ambient_rate_per_um2: float
    nuclear_density_ratio: float
    density_per_mm2: float
    min_distance_um: float


#: The ladder. Easy is about today's default biology (separate types, strong markers) on a clean
#: instrument; every knob moves towards hard at each step. Numbers measured: docs/presets.md.
LADDER: dict[str, DifficultyRung] = {
    "easy": DifficultyRung(
        n_celltype=4,
        n_markers=40,
        related_pairs=0,
        shared_markers=0,
        marker_mu=0.75,
        related_activation_factor=1.0,
        expression_baseline=0.05,
        activation_sd=0.0,
        rare_types=0,
        rare_share=1.0,
        leakage_by_gene=0.05,
        leak_dist_factor=0.8,
        ambient_rate_per_um2=0.01,
        nuclear_density_ratio=1.2,
        density_per_mm2=2000.0,
        min_distance_um=0.2,
    ),
    "medium": DifficultyRung(
        n_celltype=6,
        n_markers=12,
        related_pairs=1,
        shared_markers=20,
        marker_mu=0.35,
        related_activation_factor=0.4,
        expression_baseline=0.15,
        activation_sd=0.25,
        rare_types=1,
        rare_share=0.015,
        leakage_by_gene=0.2,
        leak_dist_factor=1.05,
        ambient_rate_per_um2=0.02,
        nuclear_density_ratio=0.95,
        density_per_mm2=2200.0,
        min_distance_um=0.3,
    ),
    "hard": DifficultyRung(
        n_celltype=8,
        n_markers=10,
        related_pairs=2,
        shared_markers=25,
        marker_mu=0.3,
        related_activation_factor=0.6,
        expression_baseline=0.3,
        activation_sd=0.4,
        rare_types=2,
        rare_share=0.01,
        leakage_by_gene=0.4,
        leak_dist_factor=1.5,
        ambient_rate_per_um2=0.04,
        nuclear_density_ratio=0.7,
        density_per_mm2=2500.0,
        min_distance_um=0.6,
    ),
}


def _check_level(level: object) -> DifficultyRung:
    if level not in LADDER:
        msg = f"difficulty={level!r} is not allowed; choose one of {list(DIFFICULTY_LEVELS)} or None (as configured)."
        raise ValueError(msg)
    return LADDER[str(level)]


def _plain(value: Any) -> Any:  # noqa: ANN401 - any config value
    """A config value as plain Python (pydantic models given in place of dicts dumped)."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _model_of(data: Mapping[str, Any]) -> str:
    if data.get("gene_table") is not None:
        return "table"
    return "programs" if data.get("programs") or data.get("cell_type_specs") else "priors"


def _prior_overrides(rung: DifficultyRung, names: list[str]) -> dict[str, Any]:
    pairs = [names[2 * i : 2 * i + 2] for i in range(min(rung.related_pairs, len(names) // 2))]
    out: dict[str, Any] = {
        "n_markers": rung.n_markers,
        "marker_mu": rung.marker_mu,
        "shared_markers": [{"celltypes": pair, "n_genes": rung.shared_markers} for pair in pairs],
    }
    n_rare = min(rung.rare_types, len(names) - 1)
    if n_rare:
        # The last types are the rare ones; the others share the rest equally.
        common = (1.0 - n_rare * rung.rare_share) / (len(names) - n_rare)
        out["tissue"] = {"proportions": [common] * (len(names) - n_rare) + [rung.rare_share] * n_rare}
    return out


def difficulty_overrides(
    level: Difficulty, *, model: str = "priors", celltype_names: list[str] | None = None
) -> dict[str, Any]:
    """The fields a level sets, as a nested dict of config overrides.

    Parameters
    ----------
    level
        ``"easy"``, ``"medium"`` or ``"hard"``.
    model
        The config's expression model (``"priors"``, ``"programs"``, ``"table"``): each gets the
        knobs its fields have; the program model's transforms of the cell types are in
        :func:`apply_difficulty`.
    celltype_names
        Prior model: the cell types, when the caller fixes them (default: the level's
        ``n_celltype`` types ``ct_k``); the related pairs and rare types are among them.

    Returns
    -------
    A nested dict in the shape of :class:`~STpuppeteer.config.SimulationConfig`'s fields.

    Examples
    --------
    >>> difficulty_overrides("hard")["n_celltype"], difficulty_overrides("hard")["tissue"]["density_per_mm2"]
    (8, 2500.0)
    >>> difficulty_overrides("easy", model="programs")["expression_baseline"]
    0.05
    """
    rung = _check_level(level)
    out: dict[str, Any] = {
        "leakage_by_gene": rung.leakage_by_gene,
        "leak_dist_factor": rung.leak_dist_factor,
        "tissue": {"density_per_mm2": rung.density_per_mm2},
        "instrument": {"ambient_rate_per_um2": rung.ambient_rate_per_um2, "min_distance_um": rung.min_distance_um},
        "transcripts": {"localisation": {"nuclear_density_ratio": rung.nuclear_density_ratio}},
    }
    if model == "priors":
        names = celltype_names if celltype_names is not None else [f"ct_{k}" for k in range(rung.n_celltype)]
        if celltype_names is None:
            out["n_celltype"] = rung.n_celltype
        out = merge_overrides(out, _prior_overrides(rung, list(names)))
    elif model == "programs":
        out["expression_baseline"] = rung.expression_baseline
    return out


def _strongest_program(activations: dict[str, float]) -> str | None:
    return max(activations, key=lambda p: (activations[p], -list(activations).index(p)), default=None)


def _as_dict(activations: dict[str, float] | list[float], program_names: list[str]) -> dict[str, float]:
    if isinstance(activations, dict):
        return dict(activations)
    return dict(zip(program_names, activations, strict=False))


def _program_types(rung: DifficultyRung, specs: dict[str, Any], program_names: list[str]) -> dict[str, Any]:
    """The program model's cell types made harder: related copies, rare shares, an activation-spread floor."""
    specs = {name: dict(spec) for name, spec in specs.items()}
    for spec in specs.values():
        spec["program_activations"] = _as_dict(spec.get("program_activations") or {}, program_names)
    weights = {name: spec.get("proportion") for name, spec in specs.items()}
    if any(w is None for w in weights.values()):
        weights = dict.fromkeys(specs, 1.0)
    total = math.fsum(weights.values()) or 1.0
    share = {name: w / total for name, w in weights.items()}
    # Related copies of the largest types not yet copied (a config read back has them already).
    originals = [n for n in specs if not n.endswith(RELATED_SUFFIX)]
    n_new = rung.related_pairs - (len(specs) - len(originals))
    candidates = sorted(
        (
            n
            for n in originals
            if n + RELATED_SUFFIX not in specs and _strongest_program(specs[n]["program_activations"])
        ),
        key=lambda n: (-share[n], originals.index(n)),
    )
    changed = False
    for name in candidates[: max(n_new, 0)]:
        changed = True
        copy_spec = copy.deepcopy(specs[name])
        strongest = _strongest_program(copy_spec["program_activations"])
        copy_spec["program_activations"][strongest] *= rung.related_activation_factor
        share[name] /= 2  # the type and its copy share its cells
        share[name + RELATED_SUFFIX] = share[name]
        specs[name + RELATED_SUFFIX] = copy_spec
    # The smallest types rare, unless they are already at most the rare share.
    rare = sorted(share, key=lambda n: (share[n], list(share).index(n)))[: min(rung.rare_types, len(share) - 1)]
    if rare and any(share[n] > rung.rare_share * (1 + 1e-9) for n in rare):
        rest = math.fsum(share[n] for n in share if n not in rare)
        scale = (1.0 - math.fsum(min(share[n], rung.rare_share) for n in rare)) / rest
        share = {n: min(s, rung.rare_share) if n in rare else s * scale for n, s in share.items()}
        changed = True
    for name, spec in specs.items():
        if changed:  # else as given, so that applying twice changes nothing, not even a last digit
            spec["proportion"] = share[name]
        if rung.activation_sd > 0:
            sd = spec.get("activation_sd", 0.0)
            acts = spec["program_activations"]
            spec["activation_sd"] = {
                p: max(sd.get(p, 0.0) if isinstance(sd, dict) else sd, rung.activation_sd) for p in acts
            }
    return specs


def apply_difficulty(data: Mapping[str, Any], *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Config fields with their ``difficulty`` applied: ``base`` < the level < ``data``.

    Parameters
    ----------
    data
        Config fields as given (``difficulty`` among them; ``None`` or absent: returned as given,
        merged over ``base``).
    base
        Fields the level overrides: a preset's, or a config file's on the command line.

    Returns
    -------
    The fields to validate. Applying again to the result changes nothing.

    Examples
    --------
    >>> fields = apply_difficulty({"difficulty": "medium", "n_cells": 300})
    >>> fields["n_celltype"], fields["shared_markers"], fields["n_cells"]
    (6, [{'celltypes': ['ct_0', 'ct_1'], 'n_genes': 20}], 300)
    >>> apply_difficulty({"difficulty": "hard", "leakage_by_gene": 0.0})["leakage_by_gene"]
    0.0
    """
    data = _plain(dict(data))
    merged_base = _plain(dict(base or {}))
    level = data.get("difficulty", merged_base.get("difficulty"))
    if level is None:
        return merge_overrides(merged_base, data)
    rung = _check_level(level)
    given = merge_overrides(merged_base, data)
    model = _model_of(given)
    names = None
    if model == "priors":  # the types given beside the level (a base's types are replaced by the level's)
        if data.get("celltype_names"):
            names = list(data["celltype_names"])
        elif "n_celltype" in data:
            names = [f"ct_{k}" for k in range(data["n_celltype"])]
    out = merge_overrides(
        merge_overrides(merged_base, difficulty_overrides(level, model=model, celltype_names=names)), data
    )
    if model == "programs" and isinstance(out.get("cell_type_specs"), dict):
        program_names = [p.get("name") for p in out.get("programs", []) if isinstance(p, dict)]
        out["cell_type_specs"] = _program_types(rung, out["cell_type_specs"], program_names)
    return out
