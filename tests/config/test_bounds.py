"""Every number of a config is strict and bounded: refused up front, by name, with what is allowed."""

from __future__ import annotations

import math
import types
import typing

import pytest
from pydantic import BaseModel, ValidationError

from STpuppeteer.config import (
    CelltypePrior,
    InstrumentConfig,
    MorphologyConfig,
    NucleusShape,
    PrototypeConfig,
    SharedMarkerSet,
    SimulationConfig,
    TissueConfig,
    TranscriptConfig,
)
from STpuppeteer.config.architecture import CortexArchitecture, GlandsArchitecture, TumourArchitecture
from STpuppeteer.config.programs import CellTypeSpec

PROGRAMS = [{"name": "p", "loading": {"A": 2.0, "B": 1.0}}]


def _place(model: type[BaseModel], field: str, value: object) -> dict:
    """Config fields that put ``value`` into ``field`` of the (nested) ``model``."""
    where = {
        SimulationConfig: lambda v: {field: v},
        TissueConfig: lambda v: {"tissue": {field: v}},
        MorphologyConfig: lambda v: {"morphology": {field: v}},
        TranscriptConfig: lambda v: {"transcripts": {field: v}},
        InstrumentConfig: lambda v: {"instrument": {field: v}},
        CelltypePrior: lambda v: {"celltype_priors": {"ct_0": {field: v}}},
        NucleusShape: lambda v: {"morphology": {"celltype_shapes": {"ct_0": {field: v}}}},
        PrototypeConfig: lambda v: {"tissue": {"prototypes": [{"kind": "cluster", "celltype": "ct_0",
                                                                "radius_um": 5.0, field: v}]}},
        SharedMarkerSet: lambda v: {"shared_markers": [{"celltypes": ["ct_0", "ct_1"], "n_genes": 2, field: v}]},
        CellTypeSpec: lambda v: {"programs": PROGRAMS, "cell_type_specs": {"T": {field: v}}},
        GlandsArchitecture: lambda v: {"tissue": {"architecture": {"kind": "glands", field: v}}},
        TumourArchitecture: lambda v: {"tissue": {"architecture": {"kind": "tumour", field: v}}},
        CortexArchitecture: lambda v: {"tissue": {"architecture": {"kind": "cortex", field: v}}},
    }[model]
    return {"n_cells": 50, **where(value)}


def _kind(annotation: object) -> type | None:
    """``int`` or ``float`` if the annotation is a number (possibly optional or one of a union), else None."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for member in typing.get_args(annotation) if union else (annotation,):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        if member in (int, float):
            return member
    return None


def _numeric_fields() -> list[tuple[type[BaseModel], str, type]]:
    """(model, field, int or float) of every numeric field of every config model."""
    out = []
    for model in (SimulationConfig, TissueConfig, MorphologyConfig, TranscriptConfig, InstrumentConfig,
                  CelltypePrior, NucleusShape, PrototypeConfig, SharedMarkerSet, CellTypeSpec, GlandsArchitecture,
                  TumourArchitecture, CortexArchitecture):
        for name, info in model.model_fields.items():
            kind = _kind(info.annotation)
            if kind is not None:
                out.append((model, name, kind))
    return out


NUMERIC = _numeric_fields()
IDS = [f"{m.__name__}.{f}" for m, f, _ in NUMERIC]
# Numbers that may also be a list, mapping or word: their bounds are checked by their validators.
BOUNDED_IN_CODE = {"leakage_by_gene": "[0, 1]", "activation_sd": "at most 1000", "block_size": "1 to 1,000,000"}


def test_the_numeric_fields_are_found():
    names = {f for _, f, _ in NUMERIC}
    assert {"n_cells", "seed", "density_per_mm2", "max_expansion_um", "leak_max_factor", "jitter_um",
            "n_neg_control_codewords", "proportion", "theta_rate"} <= names
    assert len(NUMERIC) >= 70


@pytest.mark.parametrize(("model", "field", "kind"), NUMERIC, ids=IDS)
def test_every_numeric_field_has_both_bounds_and_says_them(model, field, kind):
    info = model.model_fields[field]
    if field in BOUNDED_IN_CODE:
        assert BOUNDED_IN_CODE[field].split()[-1].strip("]") in info.description
        return
    lower = [m for m in info.metadata if hasattr(m, "ge") or hasattr(m, "gt")]
    upper = [m for m in info.metadata if hasattr(m, "le") or hasattr(m, "lt")]
    assert lower and upper, f"{model.__name__}.{field} needs a lower and an upper bound"
    assert info.description, f"{model.__name__}.{field} needs a description with its unit and bounds"
    assert any(ch.isdigit() for ch in info.description), info.description


@pytest.mark.parametrize(("model", "field", "kind"), NUMERIC, ids=IDS)
def test_a_boolean_is_not_a_number(model, field, kind):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(**_place(model, field, True))
    assert field in str(err.value)
    assert "boolean" in str(err.value)


@pytest.mark.parametrize(("model", "field", "kind"), [x for x in NUMERIC if x[2] is float],
                         ids=[i for i, x in zip(IDS, NUMERIC, strict=True) if x[2] is float])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(model, field, kind, value):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(**_place(model, field, value))
    assert field in str(err.value)
    assert "finite" in str(err.value)


def test_text_and_fractions_are_not_integers():
    for value, needle in (("5", "text, not a number"), (2.5, "not a whole number")):
        with pytest.raises(ValidationError, match=needle):
            SimulationConfig(n_cells=value)
    assert SimulationConfig(n_cells=50.0).n_cells == 50  # a whole float (YAML 1.2's 5e1) is fine


@pytest.mark.parametrize(
    ("fields", "field", "allowed"),
    [
        # the values: each passed validation and failed deep inside the run
        ({"marker_cv": 1e-300}, "marker_cv", "greater than or equal to 0.001"),  # ZeroDivisionError in the priors
        ({"hk_cv": 1e300}, "hk_cv", "less than or equal to 10"),  # OverflowError in the priors
        ({"theta_rate": 1e-300}, "theta_rate", "greater than or equal to 0.001"),
        ({"tissue": {"domain_length_um": 1e-300}}, "domain_length_um", "greater than or equal to 1"),
        ({"morphology": {"max_expansion_um": math.inf}}, "max_expansion_um", "finite"),  # OverflowError
        ({"morphology": {"max_expansion_um": 1e300}}, "max_expansion_um", "less than or equal to 100"),  # hang
        ({"n_cells": 10**18}, "n_cells", "less than or equal to 10000000"),  # MemoryError
        ({"instrument": {"n_neg_control_codewords": 10**18}}, "n_neg_control_codewords",
         "less than or equal to 100000"),  # out-of-memory kill
        ({"expression_scale": 1e300}, "expression_scale", "less than or equal to 10000"),  # lam value too large
        ({"tissue": {"section_thickness_um": 1e300}}, "section_thickness_um", "less than or equal to 1000"),
        ({"seed": 2**70}, "seed", "less than or equal to 9223372036854775807"),
        ({"tissue": {"layer_angle_deg": math.nan}}, "layer_angle_deg", "finite"),
        ({"tissue": {"layer_wobble_um": math.inf}}, "layer_wobble_um", "finite"),
        ({"transcripts": {"leak_max_factor": math.nan}}, "leak_max_factor", "finite"),
        ({"leakage_by_gene": True}, "leakage_by_gene", "boolean"),
        ({"shared_theta": 1}, "shared_theta", "valid boolean"),
    ],
)
def test_extreme_values_are_refused_naming_the_field_and_the_bound(fields, field, allowed):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(**fields)
    text = str(err.value)
    assert field in text and allowed in text, text


def test_program_numbers_are_bounded_and_strict():
    base = {"programs": PROGRAMS, "cell_type_specs": {"T": {"program_activations": {"p": 1.0}}}}
    cases = [
        ({"programs": [{"name": "p", "loading": {"A": True}}]}, "loading['A']=True"),
        ({"programs": [{"name": "p", "loading": {"A": 1e300}}]}, "at most 10000"),
        ({"cell_type_specs": {"T": {"program_activations": {"p": True}}}}, "program_activations['p']=True"),
        ({"cell_type_specs": {"T": {"program_activations": {"p": 1e300}}}}, "from -1000 to 1000"),
        ({"cell_type_specs": {"T": {"program_activations": {"p": 1.0}, "activation_sd": 1e300}}}, "at most 1000"),
    ]
    for fields, needle in cases:
        with pytest.raises(ValidationError) as err:
            SimulationConfig(**{**base, **fields})
        assert needle in str(err.value), str(err.value)
    with pytest.raises(ValueError, match=r"n_programs=1000000000000000000 is not allowed"):
        SimulationConfig.from_dict({"n_programs": 10**18})


@pytest.mark.parametrize("name", ["a\x00b", "tab\there", "line\nbreak", ".", "..", "x" * 300])
def test_names_a_store_cannot_hold_are_refused(name):
    with pytest.raises(ValidationError, match="celltype_names"):
        SimulationConfig(celltype_names=[name, "b", "c"], n_cells=50)


def test_a_tissue_larger_than_a_slide_is_refused_naming_the_fields():
    with pytest.raises(ValidationError, match=r"each side may be at most 100,000 µm.*density"):
        SimulationConfig(n_cells=10_000_000, tissue={"density_per_mm2": 1.0})
    with pytest.raises(ValidationError, match="within ±100,000 µm"):
        SimulationConfig(tissue={"mask_um": [(0, 0), (1e6, 0), (0, 1e6)]})


def test_every_preset_and_the_defaults_are_within_bounds():
    from STpuppeteer.config import PRESETS, preset_config

    SimulationConfig()
    for name in PRESETS:
        preset_config(name)


def test_a_name_may_have_200_bytes_of_utf8():
    SimulationConfig(celltype_names=["é" * 100, "b", "c"], n_cells=50)
    with pytest.raises(ValidationError, match="202 bytes long in UTF-8"):
        SimulationConfig(celltype_names=["é" * 101, "b", "c"], n_cells=50)
