"""Random configs are either refused naming a field, or run to outputs that pass an integrity check.

Hypothesis draws configs around the defaults: every leaf field of the config may take a nearby
legal value or a wild one (0, ±1e300, ±inf, NaN, 10^18, 2^70, booleans, text, None), and
the structured fields (programs with free gene and type names, shared markers, per-type priors,
tissue prototypes, leakage by gene and type, per-type nucleus shapes) come in random forms.
``n_cells`` stays small (1 to 40) unless it is drawn wild, so a legal config runs in seconds.

Each example ends in exactly one way:

- **refused**: a ``ValueError`` (pydantic's included) whose message names a field of the config;
- **refused by the Xenium writer**: a legal config whose gene names are not ASCII (Xenium's
  matrix stores ASCII bytes; every other format keeps them);
- **clean**: the simulation runs, its tables pass :func:`check_integrity`, and it writes a Xenium
  bundle and an h5ad file that read back.

Anything else fails the test: a traceback from inside a stage, a run longer than
``HANG_SECONDS`` (a hang), or an integrity failure (nonsense). The fast profile runs in
``make test``; ``STPUPPETEER_HYPOTHESIS=long`` turns on the long one (``STPUPPETEER_HYPOTHESIS_MINUTES``,
default 10), and ``STPUPPETEER_HYPOTHESIS_REPORT=path.json`` writes the counts there.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import tempfile
import time
import typing
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import anndata
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io.xenium import write_xenium
from STpuppeteer.pipeline.simulator import simulate

LONG = os.environ.get("STPUPPETEER_HYPOTHESIS", "") == "long"
MINUTES = float(os.environ.get("STPUPPETEER_HYPOTHESIS_MINUTES", "10"))
REPORT = os.environ.get("STPUPPETEER_HYPOTHESIS_REPORT")
#: A legal config of at most 40 cells runs in a few seconds; ten times that is a hang.
HANG_SECONDS = 120

WILD = [
    0,
    -1,
    1e-300,
    -1e-300,
    1e300,
    -1e300,
    math.inf,
    -math.inf,
    math.nan,
    10**18,
    2**70,
    True,
    False,
    "1",
    "",
    None,
    [],
    {},
]
#: Names in any script; control characters (refused by the config) one name in eight.
NAME_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
ANY_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
FIELDS = SimulationConfig().to_dict()
#: Leaves of the default config that take a number or a flag (the structured ones are drawn below).
STRUCTURED = {
    "celltype_priors",
    "shared_markers",
    "leakage_by_gene",
    "leakage_by_celltype",
    "tissue.prototypes",
    "tissue.proportions",
    "tissue.mask_um",
    "tissue.layer_order",
    "morphology.celltype_shapes",
    "transcripts.nuclear_fraction_by_gene",
    "n_cells",
}


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in {"tissue", "morphology", "transcripts", "instrument"}:
            out.update(_leaves(value, f"{key}."))
        elif f"{prefix}{key}" not in STRUCTURED:
            out[f"{prefix}{key}"] = value
    return out


LEAVES = _leaves(FIELDS)
def _field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of the config and of the models nested in it (programs, prototypes, priors …)."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in _models_in(info.annotation):
            names |= _field_names(arg)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


#: A refusal names one of these (or the panel's genes).
FIELD_NAMES = _field_names(SimulationConfig) | {"gene", "genes"}


@st.composite
def mostly(draw: st.DrawFn, tame: st.SearchStrategy, wild_share: int = 8) -> Any:
    """``tame``, or one time in ``wild_share`` a wild value (hypothesis's ``one_of`` favours its last branch)."""
    if draw(st.sampled_from(range(wild_share))) == 0:
        return draw(st.one_of(st.sampled_from(WILD), st.floats(allow_nan=True, allow_infinity=True)))
    return draw(tame)


def near(default: Any, wild_share: int = 5) -> st.SearchStrategy:
    """A value a user might mean: the default scaled, or a small integer near it, or a wild one."""
    if isinstance(default, bool):
        tame = st.booleans()
    elif isinstance(default, int):
        tame = st.integers(min(default, 1), max(2 * default, 4))
    elif isinstance(default, float) and default > 0:
        tame = st.floats(default / 10, 3 * default)
    elif isinstance(default, float):
        tame = st.floats(0.0, 1.0)
    elif isinstance(default, str):
        tame = st.sampled_from(_choices(default))
    else:
        tame = st.just(default)
    return mostly(tame, wild_share=wild_share)


def _choices(default: str) -> list[str]:
    known = {
        "mixed": ["mixed", "domains", "layers", "prototypes", "nonsense"],
        "expression": ["expression", "uniform", "nonsense"],
    }
    return known.get(default, [default, "nonsense"])


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


@st.composite
def name(draw: st.DrawFn, wild_share: int = 8) -> str:
    """A name in any script; one in eight may hold control characters (which the config refuses)."""
    chars = ANY_CHARS if draw(st.sampled_from(range(wild_share))) == 0 else NAME_CHARS
    return draw(st.text(chars, min_size=1, max_size=8))


@st.composite
def program_fields(draw: st.DrawFn, w: int) -> dict[str, Any]:
    """The program model with free names: 1–3 programs of 1–6 genes, 1–3 cell types."""
    names = name(w)
    genes = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    programs = []
    for p in range(draw(st.integers(1, 3))):
        chosen = draw(st.lists(st.sampled_from(genes), min_size=1, max_size=6, unique=True))
        weights = draw(st.lists(mostly(st.floats(0, 20), 4 * w), min_size=len(chosen), max_size=len(chosen)))
        programs.append({"name": f"p{p}", "loading": dict(zip(chosen, weights, strict=True))})
    types = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    specs = {}
    for ct in types:
        acts = {prog["name"]: draw(mostly(st.floats(0, 5), w)) for prog in programs if draw(st.booleans())}
        spec: dict[str, Any] = {"program_activations": acts}
        if draw(st.booleans()):
            spec["activation_sd"] = draw(st.one_of(mostly(st.floats(0, 2), w), st.sampled_from([1e-300, 5e-324])))
        if draw(st.booleans()):
            spec["proportion"] = draw(mostly(st.floats(0, 1), w))
        specs[ct] = spec
    out: dict[str, Any] = {"programs": programs, "cell_type_specs": specs}
    if draw(st.booleans()):
        out["expression_baseline"] = draw(near(0.05, w))
    if draw(st.booleans()):
        out["extra_genes"] = draw(st.lists(names, max_size=3))
    return out


@st.composite
def prior_structures(draw: st.DrawFn, n_celltype: int, w: int) -> dict[str, Any]:
    """The prior model's structured fields, naming types that may or may not exist."""
    types = [f"ct_{k}" for k in range(n_celltype + (w < 10))]  # wild: one beyond the last, an unknown type
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        celltypes = st.lists(st.sampled_from(types), min_size=1 if w < 10 else 2, max_size=3, unique=w >= 10)
        out["shared_markers"] = [{"celltypes": draw(celltypes), "n_genes": draw(mostly(st.integers(1, 5), w))}]
    if draw(st.booleans()):
        field = draw(st.sampled_from(["marker_mu", "hk_cv", "theta_alpha", "silence_mu"]))
        out["celltype_priors"] = {draw(st.sampled_from(types)): {field: draw(near(0.5, w))}}
    if draw(st.booleans()):
        out["leakage_by_celltype"] = {draw(st.sampled_from(types)): draw(near(0.1, w))}
    if draw(st.booleans()):
        out["leakage_by_gene"] = draw(
            st.one_of(
                near(0.1, w),
                st.lists(st.floats(0, 1), max_size=3),
                st.dictionaries(st.sampled_from(["hk_0", "nope"]), near(0.1, w)),
            )
        )
    if draw(st.booleans()):
        out["tissue"] = {
            "prototypes": [
                {
                    "kind": draw(st.sampled_from(["ring", "chain", "cluster"] + ["nonsense"] * (w < 10))),
                    "celltype": draw(st.sampled_from(types)),
                }
            ]
        }
    if draw(st.booleans()):
        shares = draw(
            st.lists(st.floats(0.01, 1), min_size=1 if w < 10 else n_celltype, max_size=4 if w < 10 else n_celltype)
        )
        if draw(st.sampled_from(range(4))):  # mostly fractions that sum to 1
            shares = [v / sum(shares) for v in shares]
        out.setdefault("tissue", {})["proportions"] = shares
    if draw(st.booleans()):
        out["morphology"] = {
            "celltype_shapes": {draw(st.sampled_from(types)): {"nucleus_area_mean_um2": draw(near(50.0, w))}}
        }
    return out


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config dict: small and legal-looking, with some fields perturbed; half the examples mostly wild."""
    w = draw(st.sampled_from([4, 200]))  # one value in w is wild
    data: dict[str, Any] = {
        "n_cells": draw(mostly(st.integers(1, 40), 3 * w)),
        "n_genes": 30,
        "n_markers": 5,
        "seed": draw(st.integers(0, 2**32)),
    }
    if draw(st.booleans()):
        data.pop("n_genes"), data.pop("n_markers")
        data.update(draw(program_fields(w)))
    else:
        data.update(draw(prior_structures(3, w)))
    for path in draw(st.lists(st.sampled_from(sorted(LEAVES)), max_size=4, unique=True)):
        if path in {"n_genes", "n_markers"} and "programs" in data:
            continue
        _set(data, path, draw(near(LEAVES[path], w)))
    return data


COUNTS: Counter[str] = Counter()


class Hang(Exception):
    """A run longer than HANG_SECONDS."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def check_integrity(result: Any) -> None:
    """The contract of docs/data_contract.md that any run must keep."""
    trs, cells, counts = result.trs_df, result.cell_gdf, result.count_array
    cfg = result.config
    assert len(cells) == cfg.n_cells and counts.shape == (cfg.n_cells, len(result.gpar_df))
    assert np.issubdtype(counts.dtype, np.integer) and (counts >= 0).all()
    assert np.isfinite(cells[["x", "y", "cell_area", "nucleus_area"]].to_numpy(float)).all()
    assert (cells["cell_area"] > 0).all() and (cells["nucleus_area"] <= cells["cell_area"] * (1 + 1e-9)).all()
    assert np.isfinite(trs[["x", "y", "z"]].to_numpy(float)).all()
    assert trs["qv"].between(0, 40).all()
    ids = set(cells["cell_id"].tolist()) | {-1}
    assert set(np.unique(trs["cell_id"])) <= ids and set(np.unique(trs["landed_cell_id"])) <= ids
    own = trs["origin"] == "cell"
    assert (trs.loc[own, "landed_cell_id"] == trs.loc[own, "cell_id"]).all()
    assert (trs.loc[trs["origin"].isin(["ambient", "control"]), "cell_id"] == -1).all()
    true = trs[trs["origin"].isin(["cell", "leaked"])]
    row = {cid: i for i, cid in enumerate(cells["cell_id"])}
    col = {g: j for j, g in enumerate(result.gpar_df["feature_name"])}
    seen = np.zeros_like(counts)
    np.add.at(seen, (true["cell_id"].map(row).to_numpy(int), true["true_feature_name"].map(col).to_numpy(int)), 1)
    exact = cfg.instrument.detection_efficiency == 1 and cfg.instrument.fov_efficiency_sd == 0
    assert (seen == counts).all() if exact else (seen <= counts).all()


def _names_a_field(message: str) -> bool:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message))
    return bool(words & FIELD_NAMES)


def _one_example(data: dict[str, Any], tmp_path: Any) -> str:
    try:
        cfg = SimulationConfig.from_dict(data)
    except ValueError as err:
        assert _names_a_field(str(err)), f"refusal names no field: {err}"
        return "refused"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow / 0/0 inside a stage is a silent bug
        result = simulate(cfg)
    check_integrity(result)
    folder = tmp_path / "run"
    result.to_anndata().write_h5ad(folder.with_suffix(".h5ad"))
    assert anndata.read_h5ad(folder.with_suffix(".h5ad")).shape == result.count_array.shape
    try:
        write_xenium(result, folder, ground_truth=False)
    except ValueError as err:
        assert "not ASCII" in str(err) and not folder.exists(), str(err)
        return "refused by the Xenium writer"
    return "clean"


#: The long profile runs rounds of this many fresh random examples until its minutes are up.
ROUND = 500


@settings(
    max_examples=ROUND if LONG else 80,
    deadline=None,
    derandomize=not LONG,  # the fast profile is the same examples every run, so CI is repeatable
    suppress_health_check=list(HealthCheck),
    database=None,
    report_multiple_bugs=False,
)
@given(data=configs())
def _random_config(data: dict[str, Any]) -> None:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = _one_example(data, Path(tmp))
    except Hang:
        COUNTS["hangs"] += 1
        pytest.fail(f"hang: more than {HANG_SECONDS} s on {data!r}")
    except AssertionError:
        COUNTS["nonsense"] += 1
        raise
    except Exception:
        COUNTS["tracebacks"] += 1
        raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    COUNTS[outcome] += 1


def test_random_configs_are_refused_naming_a_field_or_run_to_valid_outputs():
    start = time.monotonic()
    try:
        _random_config()
        while LONG and time.monotonic() - start < 60 * MINUTES:
            _random_config()  # a new round: new random examples
    finally:
        if REPORT:
            Path(REPORT).write_text(json.dumps({"tried": sum(COUNTS.values()), **COUNTS,
                                                "seconds": round(time.monotonic() - start)}, indent=2))
