"""Configuration of the named tissue architectures: glands, a tumour with its infiltrate, cortex.

``tissue.architecture`` picks one by name (``"glands"``, ``"tumour"``, ``"cortex"``) or as a
mapping with ``kind``, the ``roles`` (which cell types play which part) and the
architecture's own knobs. Roles left out are filled from the cell types' names (words such
as *epithelial*, *tumour*, *T cell*, *astrocyte*), and for types named ``ct_k`` from the first
types in order; :func:`architecture_roles` is the one place that decides them, for the config's
checks and for the stage (``stages/architecture.py``). The model is described in
docs/model_tissue.md, "Named architectures".
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from STpuppeteer.config._base import MAX_EXTENT_UM, Name, Real, StrictModel

__all__ = [
    "ROLES",
    "Architecture",
    "ArchitectureKind",
    "CortexArchitecture",
    "GlandsArchitecture",
    "TumourArchitecture",
    "architecture_roles",
]

ArchitectureKind = Literal["glands", "tumour", "cortex"]
#: The roles of each architecture, in the order they are filled; the first is required.
ROLES: dict[str, tuple[str, ...]] = {
    "glands": ("epithelium", "myoepithelium", "stroma"),
    "tumour": ("tumour", "immune", "stroma"),
    "cortex": ("layers", "scattered"),
}
# Spellings a user may reach for first; the config stores the name on the left of ROLES.
_KIND_ALIASES = {"tumor": "tumour", "gland": "glands", "cortical_layers": "cortex"}

# Words of a cell type's name (lower case) that give it a role by default. Myoepithelial and basal
# types are matched before epithelial ones (their names often contain "epithelial" too).
_MYOEPITHELIAL_WORDS = ("myoepithel", "basal")
_TUMOUR_WORDS = ("tumour", "tumor", "cancer", "carcinoma", "malignant", "neoplastic")
_EPITHELIAL_WORDS = (
    "epithel",
    "luminal",
    "ductal",
    "acinar",
    "keratinocyte",
    "enterocyte",
    "hepatocyte",
    "alveolar",
    "dcis",
    *_TUMOUR_WORDS,
)
_IMMUNE_WORDS = (
    "immune",
    "t cell",
    "b cell",
    "nk cell",
    "treg",
    "regulatory t",
    "lymphocyte",
    "plasma cell",
    "macrophage",
    "monocyte",
    "dendritic",
    "mast cell",
    "neutrophil",
    "myeloid",
    "cd4",
    "cd8",
)
# Cortex: cells found in every layer rather than forming one.
_SCATTERED_WORDS = (
    "astro",
    "oligo",
    "glia",
    "opc",
    "interneuron",
    "inhibitory",
    "gaba",
    "pvalb",
    "sst",
    "vip",
    "lamp5",
    "endothelial",
    "pericyte",
    "vlmc",
    "smc",
)
# "L2/3 IT", "L5 ET", "Layer 6": a layer number in a neuron type's name orders the layers.
_LAYER_NUMBER = re.compile(r"(?:\bL|layer\s*)(\d)", re.IGNORECASE)

_ROLES_DESCRIPTION = (
    "cell types per role, e.g. {{{example}}}: a name or a list of names each; roles left out are "
    "filled from the types' names (docs/model_tissue.md), and types in no role are {rest}"
)


def _listed(value: Any) -> Any:  # noqa: ANN401 - checked by the field's own type next
    # A role may be given one type as text; stored as a list.
    if isinstance(value, dict):
        return {role: [types] if isinstance(types, str) else types for role, types in value.items()}
    return value


Roles = Annotated[dict[str, list[Name]], BeforeValidator(_listed)]


class _ArchitectureBase(StrictModel):
    """Shared checks of the roles of every architecture."""

    @field_validator("roles", check_fields=False)
    @classmethod
    def _roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        kind = cls.model_fields["kind"].default
        allowed = ROLES[kind]
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            msg = (
                f"tissue.architecture.roles has roles {unknown} that {kind!r} does not have; "
                f"allowed are {list(allowed)}."
            )
            raise ValueError(msg)
        seen: dict[str, str] = {}
        for role, names in value.items():
            if not names:
                msg = (
                    f"tissue.architecture.roles[{role!r}] is empty; give at least one cell type or leave the role out."
                )
                raise ValueError(msg)
            for name in names:
                if name in seen:
                    msg = (
                        f"tissue.architecture.roles gives {name!r} two roles ({seen[name]!r} and {role!r}); "
                        "a cell type plays one role."
                    )
                    raise ValueError(msg)
                seen[name] = role
        return value


class GlandsArchitecture(_ArchitectureBase):
    """Epithelium lining lumens, an optional myoepithelial ring around it, stroma in between.

    Lumens are the tissue's gaps; with ``tissue.gap_fraction`` 0 the architecture cuts as
    many as its epithelial cells can line ``lining_cells`` deep.
    """

    kind: Literal["glands"] = "glands"
    roles: Roles = Field(
        default_factory=dict,
        description=_ROLES_DESCRIPTION.format(
            example="epithelium: Luminal epithelial, myoepithelium: Myoepithelial", rest="stroma (domains)"
        ),
    )
    lining_cells: Real = Field(
        2.0,
        ge=0.5,
        le=20,
        description="with tissue.gap_fraction 0: depth of the epithelium around each lumen, in cell widths, from "
        "which the lumens' share of the tissue follows; 0.5 to 20 (a partial single layer to a solid nest)",
    )


class TumourArchitecture(_ArchitectureBase):
    """Tumour nests in stroma, immune cells dense at the invasive margin and thinning into the nests."""

    kind: Literal["tumour"] = "tumour"
    roles: Roles = Field(
        default_factory=dict,
        description=_ROLES_DESCRIPTION.format(
            example="tumour: Tumour epithelial, immune: [CD8 T cell, Macrophage]", rest="stroma (domains)"
        ),
    )
    nest_length_um: Real = Field(
        150.0,
        ge=1,
        le=MAX_EXTENT_UM,
        description=f"correlation length of the smooth field whose highest part are the nests, µm; 1 to "
        f"{MAX_EXTENT_UM:,.0f} (nests of a few cells to the slide)",
    )
    infiltration: Real = Field(
        0.3,
        ge=0,
        le=1,
        description="immune cells just inside a nest's border, relative to the invasive margin (selection "
        "weight); 0 to 1 (0: immune-excluded, 1: as dense inside as at the margin)",
    )
    infiltration_depth_um: Real = Field(
        40.0,
        ge=1,
        le=MAX_EXTENT_UM,
        description=f"decay length of the infiltration with depth into a nest, µm; 1 to {MAX_EXTENT_UM:,.0f}",
    )
    margin_um: Real = Field(
        40.0,
        ge=1,
        le=MAX_EXTENT_UM,
        description=f"width of the invasive margin, the band of stroma around the nests where immune cells "
        f"gather, µm; 1 to {MAX_EXTENT_UM:,.0f}",
    )


class CortexArchitecture(_ArchitectureBase):
    """Curved layers in a given order, with glia and interneurons scattered across them.

    Layers are stacked along ``tissue.layer_angle_deg`` and wobble by ``tissue.layer_wobble_um``,
    as the ``layers`` pattern's do; each layer is as thick as its type's share of the cells.
    """

    kind: Literal["cortex"] = "cortex"
    roles: Roles = Field(
        default_factory=dict,
        description=_ROLES_DESCRIPTION.format(
            example="layers: [L2/3 IT, L4 IT, L5 ET, L6 CT], scattered: [Astrocyte, Pvalb]", rest="scattered"
        ),
    )
    curvature_radius_um: Real | None = Field(
        1500.0,
        ge=10,
        le=MAX_EXTENT_UM,
        description=f"radius of the layers' arcs (a centre beyond the last layer, as under a gyrus' crown), µm; "
        f"None = straight layers; 10 to {MAX_EXTENT_UM:,.0f}",
    )
    border_um: Real = Field(
        10.0,
        ge=0,
        le=MAX_EXTENT_UM,
        description="s.d. of each cell's own shift across the layers, µm: neighbouring layers interleave at their "
        f"borders over about this width (0 = sharp borders); 0 to {MAX_EXTENT_UM:,.0f}",
    )


def _architecture(value: Any) -> Any:  # noqa: ANN401 - checked by the union next
    # "glands" is short for {"kind": "glands"}; a few other spellings are read as the stored ones.
    if isinstance(value, str):
        value = {"kind": value}
    if isinstance(value, dict) and isinstance(value.get("kind"), str):
        value = {**value, "kind": _KIND_ALIASES.get(value["kind"].strip().lower(), value["kind"])}
    return value


#: ``tissue.architecture``: one of the three models, chosen by ``kind`` (a name alone is enough).
Architecture = Annotated[
    GlandsArchitecture | TumourArchitecture | CortexArchitecture,
    Field(discriminator="kind"),
    BeforeValidator(_architecture),
]


def _matching(names: list[str], words: tuple[str, ...]) -> list[str]:
    # Words start at a word boundary: "T cell" is not in "Breast cell", "epithel" not in "myoepithelial".
    pattern = re.compile("|".join(rf"\b{re.escape(word)}" for word in words))
    return [name for name in names if pattern.search(name.lower())]


def _default_roles(kind: str, free: list[str], *, named: bool) -> dict[str, list[str]]:
    # Roles from the names of the types no role was given to (named=False: ct_k, by order).
    if kind == "glands":
        if not named:
            return {"epithelium": free[:1]}
        myo = [n for n in _matching(free, _MYOEPITHELIAL_WORDS) if n not in _matching(free, _TUMOUR_WORDS)]
        epithelium = [n for n in _matching(free, _EPITHELIAL_WORDS) if n not in myo] or [
            n for n in free if n not in myo
        ][:1]
        return {"epithelium": epithelium, "myoepithelium": myo}
    if kind == "tumour":
        if not named:
            return {"tumour": free[:1], "immune": free[1:2]}
        tumour = _matching(free, _TUMOUR_WORDS)
        myo = _matching(free, _MYOEPITHELIAL_WORDS)
        tumour = tumour or [n for n in _matching(free, _EPITHELIAL_WORDS) if n not in myo][:1] or free[:1]
        immune = [n for n in _matching(free, _IMMUNE_WORDS) if n not in tumour]
        return {"tumour": tumour, "immune": immune}
    scattered = _matching(free, _SCATTERED_WORDS) if named else []
    layers = [n for n in free if n not in scattered] or free
    if all(_LAYER_NUMBER.search(n) for n in layers):
        layers = sorted(layers, key=lambda n: int(_LAYER_NUMBER.search(n).group(1)))
    return {"layers": layers, "scattered": [n for n in scattered if n not in layers]}


def architecture_roles(
    architecture: GlandsArchitecture | TumourArchitecture | CortexArchitecture, celltype_names: list[str]
) -> dict[str, list[str]]:
    """The cell types of each role of an architecture, defaults filled from the types' names.

    Given roles are kept. A missing role takes the types whose names hold its words (glands:
    *epithelial*, *luminal*, *tumour* … for the epithelium, *myoepithelial* or *basal* for the
    ring; tumour: *tumour*, *carcinoma* …, else the first epithelial type, and *T cell*,
    *macrophage* … for the immune cells; cortex: *astrocyte*, *oligodendrocyte*, *interneuron*,
    *Pvalb* … are scattered, the rest are layers, ordered by a layer number in their names such as
    ``L2/3``, else as listed). Types named ``ct_k`` take the first types in order: glands' epithelium
    ``ct_0``; the tumour ``ct_0`` and its immune cells ``ct_1``; cortex layers all of them. The
    types in no role are the stroma (glands, tumour) or scattered (cortex).

    Parameters
    ----------
    architecture
        The architecture config.
    celltype_names
        The simulation's cell types.

    Returns
    -------
    Every role of :data:`ROLES` of the kind, each a list of names (possibly empty), in the
    order of the types' names unless the config or a layer number orders them.

    Raises
    ------
    ValueError
        If a role names an unknown cell type, or the first role ends up empty.

    Examples
    --------
    >>> names = ["Luminal epithelial", "Myoepithelial", "Fibroblast", "T cell"]
    >>> architecture_roles(GlandsArchitecture(), names)
    {'epithelium': ['Luminal epithelial'], 'myoepithelium': ['Myoepithelial'], 'stroma': ['Fibroblast', 'T cell']}
    >>> architecture_roles(TumourArchitecture(), ["ct_0", "ct_1", "ct_2"])
    {'tumour': ['ct_0'], 'immune': ['ct_1'], 'stroma': ['ct_2']}
    """
    names = list(celltype_names)
    kind = architecture.kind
    for role, given in architecture.roles.items():
        unknown = [name for name in given if name not in names]
        if unknown:
            msg = f"tissue.architecture.roles[{role!r}] names {unknown}, which are not cell types; allowed are {names}."
            raise ValueError(msg)
    taken = {name for given in architecture.roles.values() for name in given}
    free = [name for name in names if name not in taken]
    named = not all(re.fullmatch(r"ct_\d+", name) for name in names)
    defaults = _default_roles(kind, free, named=named)
    roles: dict[str, list[str]] = {}
    for role in ROLES[kind]:
        if role in architecture.roles:
            roles[role] = list(architecture.roles[role])
        elif role in defaults:
            roles[role] = [n for n in defaults[role] if n not in {x for r in roles.values() for x in r}]
        else:
            roles[role] = []
    rest = [name for name in names if not any(name in r for r in roles.values())]
    last = ROLES[kind][-1]
    roles[last] = roles[last] + rest
    first = ROLES[kind][0]
    if not roles[first]:
        msg = (
            f"tissue.architecture={kind!r} needs at least one cell type in role {first!r}; none of {names} "
            f"was given it (tissue.architecture.roles) or has a name that says it."
        )
        raise ValueError(msg)
    return roles
