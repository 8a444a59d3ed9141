"""Real gene panels of the imaging platforms, as package data (``config/panels/<name>.txt``).

Each file is one gene symbol per line under a ``#`` header naming the vendor panel, the public
source it was read from and the date; the symbols are kept in the source's order. The
platform presets of the program model (:data:`~STpuppeteer.config.presets.PANEL_PRESETS`) put
a tissue's marker programs on one of these panels: the panel's other genes become
``extra_genes`` at ``expression_baseline``, so a run has the panel's real size and names.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["PANELS", "panel_genes"]

#: Panel name → (file in ``config/panels/``, vendor's name of the panel).
PANELS: dict[str, tuple[str, str]] = {
    "xenium_human_breast_v1": (
        "xenium_human_breast_v1.txt",
        "Xenium Human Breast Gene Expression Panel v1 (280 genes)",
    ),
    "xenium_human_immuno_oncology_v1": (
        "xenium_human_immuno_oncology_v1.txt",
        "Xenium Human Immuno-Oncology Gene Expression Panel v1 (380 genes)",
    ),
    "cosmx_human_universal_cell_characterization_1k": (
        "cosmx_human_universal_cell_characterization_1k.txt",
        "CosMx Human Universal Cell Characterization RNA Panel (1,000 genes)",
    ),
    "xenium_prime_human_5k": (
        "xenium_prime_human_5k.txt",
        "Xenium Prime 5K Human Pan Tissue & Pathways Panel (5,001 genes)",
    ),
}


@cache
def _read_panel(name: str) -> tuple[str, ...]:
    filename = PANELS[name][0]
    text = resources.files("STpuppeteer.config").joinpath("panels", filename).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def panel_genes(name: str) -> list[str]:
    """The gene symbols of a panel, in the order of its source.

    Parameters
    ----------
    name
        A key of :data:`PANELS`.

    Returns
    -------
    A new list of the panel's symbols (no duplicates, no control probes).

    Raises
    ------
    ValueError
        If ``name`` is not a known panel (the message lists the known ones).

    Examples
    --------
    >>> len(panel_genes("xenium_human_breast_v1")), panel_genes("xenium_human_breast_v1")[:2]
    (280, ['ABCC11', 'ACTA2'])
    """
    if name not in PANELS:
        msg = f"panel {name!r} is not known; known panels: {sorted(PANELS)}."
        raise ValueError(msg)
    return list(_read_panel(name))
