"""The program model of expression (``docs/model_programs.md``): gene table, means, counts.

For a cell c of type k with size factor s_c, over the programs p and genes g::

    z_c  ~ N(μ_k, diag σ_k²)                  (programs k does not list: 0)
    m_gc = max(μ0 + Σ_p W_gp z_cp, ε) · s_c
    CV   = φ0 · m_gc^(-α)
    λ    ~ Gamma(shape 1/CV², scale m_gc·CV²)
    Y_gc ~ Poisson(λ)

so E[Y | m] = m and Var[Y | m] = m + CV²m². μ0 is ``expression_baseline``, W the programs'
loadings, μ_k / σ_k a type's ``program_activations`` / ``activation_sd``, φ0
``overdispersion_cv``, α ``overdispersion_exponent`` and ε = :data:`MIN_MEAN`.
No randomness outside :func:`draw_program_counts`, which draws from the generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from STpuppeteer.config.panel import gene_leakage
from STpuppeteer.stages.transcripts.localisation import localisation_columns

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = [
    "MIN_MEAN",
    "PROGRAM_BASELINE",
    "ProgramArrays",
    "build_program_gpar_df",
    "draw_program_counts",
    "expected_program_means",
    "program_celltype_codes",
    "program_markers",
    "program_means",
    "sample_counts_program_model",
]

#: ε, the smallest mean a gene can have in a cell before the size factor: 10⁻⁶ molecules, so a
#: gene whose programs push it below 0 is (practically) off, and the Gamma's shape stays > 0.
MIN_MEAN = 1e-6
#: Column of the program ``gpar_df`` holding μ0 (the expression every gene has before programs).
PROGRAM_BASELINE = "expression_baseline"
#: ``gene_type`` of a gene no program loads.
BASELINE_ONLY = "baseline"


def _require_programs(config: SimulationConfig) -> None:
    if config.expression_model != "programs":
        msg = "the config has no programs; the program model needs programs and cell_type_specs."
        raise ValueError(msg)


@dataclass(frozen=True)
class ProgramArrays:
    """The program model as arrays: genes × programs loadings, types × programs activations.

    Attributes
    ----------
    baseline
        μ0 of every gene.
    loadings
        W, genes × programs.
    act_mean, act_sd
        μ_k and σ_k, cell types × programs (programs a type does not list: 0 and 0).
    cv0, alpha
        φ0 and α of CV(m) = φ0·m^-α.
    celltypes
        The cell types, in row order of ``act_mean``.
    """

    baseline: np.ndarray
    loadings: np.ndarray
    act_mean: np.ndarray
    act_sd: np.ndarray
    cv0: float
    alpha: float
    celltypes: list[str]

    @classmethod
    def from_config(cls, config: SimulationConfig, gpar_df: pd.DataFrame | None = None) -> ProgramArrays:
        """From the config, with the genes' baseline and loadings read from ``gpar_df`` if given.

        Parameters
        ----------
        config
            A program-model config.
        gpar_df
            A program gene table (:func:`build_program_gpar_df`, possibly edited); ``None``: the
            config's own.

        Returns
        -------
        The arrays.
        """
        _require_programs(config)
        programs = [p.name for p in config.programs]
        if gpar_df is None:
            genes = config.resolve_gene_names()
            loadings = np.array([[p.loading.get(g, 0.0) for p in config.programs] for g in genes], dtype=float)
            baseline = np.full(len(genes), config.expression_baseline)
        else:
            missing = [c for c in [PROGRAM_BASELINE, *programs] if c not in gpar_df.columns]
            if missing:
                msg = f"gpar_df has no columns {missing}; a program gene table has the baseline and one per program."
                raise ValueError(msg)
            loadings = gpar_df[programs].to_numpy(float).reshape(len(gpar_df), len(programs))
            baseline = gpar_df[PROGRAM_BASELINE].to_numpy(float)
        index = {name: j for j, name in enumerate(programs)}
        shape = (len(config.cell_type_specs), len(programs))
        act_mean, act_sd = np.zeros(shape), np.zeros(shape)
        for k, spec in enumerate(config.cell_type_specs.values()):
            sd = spec.activation_sd
            for prog, value in spec.program_activations.items():
                act_mean[k, index[prog]] = value
                act_sd[k, index[prog]] = sd.get(prog, 0.0) if isinstance(sd, dict) else sd
        return cls(baseline=baseline, loadings=loadings, act_mean=act_mean, act_sd=act_sd,
                   cv0=config.overdispersion_cv, alpha=config.overdispersion_exponent,
                   celltypes=list(config.cell_type_specs))

    def mean_at_activation(self) -> np.ndarray:
        """max(μ0 + W μ_k, ε): each type's gene means with its activations at their means, types × genes."""
        return np.maximum(self.baseline + self.act_mean @ self.loadings.T, MIN_MEAN)

    def expected_mean(self) -> np.ndarray:
        """E[max(μ0 + W z, ε)] over z ~ N(μ_k, diag σ_k²), types × genes (a cell of size factor 1).

        μ0 + W z is normal with mean a = μ0 + W μ_k and s.d. b = √(Σ_p W_gp² σ_kp²), so the
        clipped mean is ε Φ(c) + a (1 − Φ(c)) + b φ(c) with c = (ε − a)/b (b = 0: max(a, ε)).
        """
        # A vanishing spread (b ~ 1e-300) overflows c and underflows b²; both limits are right
        # (Φ(±inf) is 0 or 1, and b = 0 takes the max(a, ε) branch), so numpy need not warn.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            a = self.baseline + self.act_mean @ self.loadings.T
            b = np.sqrt(self.act_sd**2 @ (self.loadings**2).T)
            c = (MIN_MEAN - a) / b
            clipped = MIN_MEAN * stats.norm.cdf(c) + a * stats.norm.sf(c) + b * stats.norm.pdf(c)
        return np.where(b > 0, clipped, np.maximum(a, MIN_MEAN))


def draw_program_counts(
    arrays: ProgramArrays, codes: np.ndarray, scale: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Counts of cells of types ``codes`` and size factors ``scale`` (int64, cells × genes).

    Draw order: the activations (one standard normal per cell and program, only if some
    ``activation_sd`` is > 0), one standard Gamma per cell and gene, one Poisson per cell and gene.
    """
    codes = np.asarray(codes, dtype=np.intp)
    scale = np.asarray(scale, dtype=float)
    z = arrays.act_mean[codes]
    if np.any(arrays.act_sd > 0):
        z = z + arrays.act_sd[codes] * rng.standard_normal(z.shape)
    # Cells × genes arrays are reused in place (at 5,000 genes a block's float64 array is ~160 MB):
    # two live at a time instead of six. Each step computes the same numbers as its plain form
    # (noted beside it), so the counts are bit for bit those of the plain formulas.
    safe = z @ arrays.loadings.T
    np.add(safe, arrays.baseline, out=safe)
    np.maximum(safe, MIN_MEAN, out=safe)
    safe *= scale[:, None]  # m = max(μ0 + z·Wᵀ, ε) · s
    off = ~(safe > 0)
    np.copyto(safe, 1.0, where=off)  # safe = where(m > 0, m, 1)
    cv2 = safe ** (-2.0 * arrays.alpha)
    cv2 *= arrays.cv0**2  # CV² = φ0² · safe^(−2α)
    safe *= cv2  # the Gamma's scale, safe · CV²
    shape = np.divide(1.0, cv2, out=cv2)  # its shape, 1 / CV²
    lam = rng.standard_gamma(shape, out=shape)
    lam *= safe
    del safe
    np.copyto(lam, 0.0, where=off)  # λ = 0 where m = 0
    return rng.poisson(lam)


def program_celltype_codes(cell_gdf: pd.DataFrame, celltypes: list[str]) -> np.ndarray:
    """Position of each cell's ``celltype`` in ``celltypes``; an unknown type is an error naming it."""
    if "celltype" not in cell_gdf.columns:
        msg = f"cell_gdf has no 'celltype' column (columns: {list(cell_gdf.columns)}); it names each cell's type."
        raise ValueError(msg)
    values = pd.Index(np.asarray(cell_gdf["celltype"], dtype=object))
    codes = pd.Index(celltypes).get_indexer(values)
    if np.any(codes < 0):
        unknown = list(dict.fromkeys(values[codes < 0]))
        msg = f"cell_gdf['celltype'] has cell types {unknown[:10]} not in cell_type_specs; known: {celltypes}."
        raise ValueError(msg)
    return codes


def _scale(cell_gdf: pd.DataFrame, *, required: bool) -> np.ndarray:
    if "scale" not in cell_gdf.columns:
        if required:
            msg = "cell_gdf has no 'scale' column (the cells' size factors)."
            raise ValueError(msg)
        return np.ones(len(cell_gdf))
    scale = np.asarray(cell_gdf["scale"], dtype=float)
    if np.any(~np.isfinite(scale) | (scale < 0)):
        msg = "cell_gdf['scale'] has negative or non-finite values; size factors must be finite and ≥ 0."
        raise ValueError(msg)
    return scale


def sample_counts_program_model(
    cell_gdf: pd.DataFrame, cfg: SimulationConfig, rng: np.random.Generator | int | None
) -> np.ndarray:
    """Draw the counts of given cells from the program model.

    Parameters
    ----------
    cell_gdf
        One row per cell: ``celltype`` (a key of ``cfg.cell_type_specs``) and optionally
        ``scale`` (the size factor s_c, default 1). No geometry is needed.
    cfg
        A program-model config.
    rng
        Generator (or seed); the draws advance it, so the same state gives the same counts.

    Returns
    -------
    int64 array, ``len(cell_gdf)`` × ``len(cfg.resolve_gene_names())``, rows in ``cell_gdf`` order.

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> cfg = SimulationConfig(programs=[{"name": "epi", "loading": {"EPCAM": 20.0, "KRT8": 10.0}}],
    ...                        cell_type_specs={"Ductal/tumor epithelial": {"program_activations": {"epi": 1.0}},
    ...                                         "Fibroblast / CAF": {}})
    >>> cells = pd.DataFrame({"celltype": ["Ductal/tumor epithelial", "Fibroblast / CAF"]})
    >>> sample_counts_program_model(cells, cfg, np.random.default_rng(0)).shape
    (2, 2)
    """
    rng = np.random.default_rng(rng)
    arrays = ProgramArrays.from_config(cfg)
    codes = program_celltype_codes(cell_gdf, arrays.celltypes)
    return draw_program_counts(arrays, codes, _scale(cell_gdf, required=False), rng)


def program_means(cfg: SimulationConfig) -> pd.DataFrame:
    """Each type's gene means with its activations at their means, max(μ0 + W μ_k, ε): types × genes."""
    return pd.DataFrame(ProgramArrays.from_config(cfg).mean_at_activation(), index=pd.Index(cfg.celltype_names),
                        columns=pd.Index(cfg.resolve_gene_names()))


def expected_program_means(cfg: SimulationConfig) -> pd.DataFrame:
    """E[Y] of every gene in a cell of each type with size factor 1, types × genes.

    Equal to :func:`program_means` when no type has an ``activation_sd``; otherwise the mean
    over the activations of the clipped mean (:meth:`ProgramArrays.expected_mean`).
    """
    return pd.DataFrame(ProgramArrays.from_config(cfg).expected_mean(), index=pd.Index(cfg.celltype_names),
                        columns=pd.Index(cfg.resolve_gene_names()))


def build_program_gpar_df(cfg: SimulationConfig) -> pd.DataFrame:
    """The program model's gene table, one row per gene in ``cfg.resolve_gene_names()`` order.

    Columns: ``feature_name``; ``gene_type`` (the program loading the gene most, or
    ``"baseline"`` if none does); ``expression_baseline`` (μ0); one loading column per program,
    named after it; ``{celltype}_mu`` per cell type, the expected count at size factor 1
    (:func:`expected_program_means`); ``gene_leakage`` (from ``cfg.leakage_by_gene``).

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> cfg = SimulationConfig(programs=[{"name": "T", "loading": {"CD3E": 8.0}}],
    ...                        cell_type_specs={"T cell": {"program_activations": [1.0]}}, leakage_by_gene=0.1)
    >>> build_program_gpar_df(cfg).columns.tolist()
    ['feature_name', 'gene_type', 'expression_baseline', 'T', 'T cell_mu', 'gene_leakage']
    """
    arrays = ProgramArrays.from_config(cfg)
    genes = cfg.resolve_gene_names()
    names = [p.name for p in cfg.programs]
    top = arrays.loadings.argmax(axis=1)
    loaded = arrays.loadings.max(axis=1) > 0
    columns: dict[str, object] = {
        "feature_name": np.asarray(genes, dtype=object),
        "gene_type": np.where(loaded, np.asarray(names, dtype=object)[top], BASELINE_ONLY).astype(object),
        PROGRAM_BASELINE: arrays.baseline,
    }
    for j, name in enumerate(names):
        columns[name] = arrays.loadings[:, j]
    means = arrays.expected_mean()
    for k, ct in enumerate(arrays.celltypes):
        columns[f"{ct}_mu"] = means[k]
    columns["gene_leakage"] = gene_leakage(cfg, genes)
    columns.update(localisation_columns(cfg, genes))
    return pd.DataFrame(columns)


def program_markers(gpar_df: pd.DataFrame) -> dict[str, list[str]]:
    """Marker genes of a program gene table and the cell types each marks.

    A gene marks the types whose expected count (``{celltype}_mu``) exceeds the baseline by at
    least half its largest excess over the baseline; a gene marking every type (or none) is
    not a marker.
    """
    mu_cols = [c for c in gpar_df.columns if c.endswith("_mu")]
    types = [c.removesuffix("_mu") for c in mu_cols]
    excess = np.clip(gpar_df[mu_cols].to_numpy(float) - gpar_df[PROGRAM_BASELINE].to_numpy(float)[:, None], 0, None)
    top = excess.max(axis=1, initial=0.0)
    marks = (excess >= 0.5 * top[:, None]) & (top[:, None] > 0)
    out = {}
    for gene, row in zip(gpar_df["feature_name"], marks, strict=True):
        if 0 < row.sum() < len(types):
            out[gene] = [t for t, m in zip(types, row, strict=True) if m]
    return out
