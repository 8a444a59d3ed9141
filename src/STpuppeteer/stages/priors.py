"""Gamma priors for the gene parameters μ (mean expression) and θ (NB dispersion).

The μ priors are parameterised by their mean and coefficient of variation (CV):
shape α = 1/cv², scale = mu/α, so the distribution has exactly the requested mean
and relative spread. The θ prior keeps the raw (alpha, rate) form of the original
tutorial and also accepts the same (mu, cv) form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scipy import stats

if TYPE_CHECKING:
    import numpy as np
    from scipy.stats._distn_infrastructure import rv_continuous_frozen

__all__ = [
    "GammaPrior",
    "gamma_from_mean_cv",
    "get_hk_gamma_prior",
    "get_marker_gamma_prior",
    "get_silence_gamma_prior",
    "get_theta_gamma_prior",
]


def _check_positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        msg = f"{name}={value!r} is not a number; expected a positive finite float."
        raise TypeError(msg) from None
    if not math.isfinite(value) or value <= 0:
        msg = f"{name}={value!r} is not allowed; expected a positive finite float."
        raise ValueError(msg)
    return value


@dataclass(frozen=True)
class GammaPrior:
    """A Gamma prior as its shape and scale: draws what the frozen scipy distribution draws.

    Stage 1 draws from a dozen priors a run; freezing a scipy distribution costs about 0.6 ms
    (scipy writes the frozen object's docstring), more than the draws of a few hundred genes.
    :meth:`rvs` calls the same ``scipy.stats.gamma.rvs`` the frozen one calls, with the same
    arguments, so the numbers are the same bits.

    Attributes
    ----------
    shape
        Shape α.
    scale
        Scale (1 / rate).

    Examples
    --------
    >>> import numpy as np
    >>> prior = GammaPrior.from_mean_cv(0.75, 0.6)
    >>> a = prior.rvs(3, random_state=np.random.default_rng(0))
    >>> b = prior.frozen().rvs(3, random_state=np.random.default_rng(0))
    >>> bool((a == b).all())
    True
    """

    shape: float
    scale: float

    @classmethod
    def from_mean_cv(cls, mu: float, cv: float) -> GammaPrior:
        """Mean ``mu`` and coefficient of variation ``cv`` (both > 0): shape ``1 / cv²``, scale ``mu / shape``."""
        mu = _check_positive("mu", mu)
        cv = _check_positive("cv", cv)
        shape = 1.0 / cv**2
        return cls(shape=shape, scale=mu / shape)

    @classmethod
    def from_alpha_rate(cls, alpha: float, rate: float) -> GammaPrior:
        """Shape ``alpha`` and rate ``rate`` (both > 0)."""
        alpha = _check_positive("alpha", alpha)
        rate = _check_positive("rate", rate)
        return cls(shape=alpha, scale=1.0 / rate)

    def rvs(self, size: int, *, random_state: np.random.Generator) -> np.ndarray:
        """``size`` draws, as ``self.frozen().rvs(size, random_state=random_state)``."""
        return stats.gamma.rvs(a=self.shape, scale=self.scale, size=size, random_state=random_state)

    def frozen(self) -> rv_continuous_frozen:
        """The frozen :func:`scipy.stats.gamma`."""
        return stats.gamma(a=self.shape, scale=self.scale)


def gamma_from_mean_cv(mu: float, cv: float) -> rv_continuous_frozen:
    """Frozen Gamma distribution with mean ``mu`` and coefficient of variation ``cv``.

    Parameters
    ----------
    mu
        Mean of the distribution (> 0).
    cv
        Coefficient of variation, std / mean (> 0).

    Returns
    -------
    A frozen :func:`scipy.stats.gamma` with shape ``1 / cv**2`` and scale ``mu * cv**2``.

    Examples
    --------
    >>> prior = gamma_from_mean_cv(0.75, 0.6)
    >>> round(float(prior.mean()), 6), round(float(prior.std() / prior.mean()), 6)
    (0.75, 0.6)
    """
    return GammaPrior.from_mean_cv(mu, cv).frozen()


def get_marker_gamma_prior(mu: float = 0.75, cv: float = 0.6) -> rv_continuous_frozen:
    """Prior of μ for a marker gene in its own cell type (high expression).

    Parameters
    ----------
    mu
        Mean of the prior.
    cv
        Coefficient of variation of the prior (gene-to-gene spread).

    Returns
    -------
    A frozen scipy Gamma distribution.

    Examples
    --------
    >>> get_marker_gamma_prior(mu=0.75, cv=0.6).mean()
    np.float64(0.75)
    """
    return gamma_from_mean_cv(mu, cv)


def get_silence_gamma_prior(mu: float = 0.05, cv: float = 1.0) -> rv_continuous_frozen:
    """Prior of μ for a gene that is off in a cell type (silent genes, other types' markers).

    Parameters
    ----------
    mu
        Mean of the prior.
    cv
        Coefficient of variation of the prior.

    Returns
    -------
    A frozen scipy Gamma distribution.
    """
    return gamma_from_mean_cv(mu, cv)


def get_hk_gamma_prior(hk_mu: float = 0.2, hk_cv: float = 0.3) -> rv_continuous_frozen:
    """Prior of μ for a housekeeping gene (expressed in every cell type).

    Parameters
    ----------
    hk_mu
        Mean of the prior.
    hk_cv
        Coefficient of variation of the prior.

    Returns
    -------
    A frozen scipy Gamma distribution.
    """
    return gamma_from_mean_cv(hk_mu, hk_cv)


def get_theta_gamma_prior(
    alpha: float | None = None,
    rate: float | None = None,
    *,
    mu: float | None = None,
    cv: float | None = None,
) -> rv_continuous_frozen:
    """Prior of the negative-binomial dispersion θ (lower θ = more overdispersion).

    Give exactly one form: ``alpha`` and ``rate`` (shape and rate, mean = alpha / rate),
    or ``mu`` and ``cv`` (mean and coefficient of variation, as for the μ priors).

    Parameters
    ----------
    alpha
        Shape of the Gamma prior.
    rate
        Rate (1 / scale) of the Gamma prior.
    mu
        Mean of the prior (alternative form).
    cv
        Coefficient of variation of the prior (alternative form).

    Returns
    -------
    A frozen scipy Gamma distribution.

    Examples
    --------
    >>> get_theta_gamma_prior(alpha=2.0, rate=1.0).mean()
    np.float64(2.0)
    >>> get_theta_gamma_prior(mu=2.0, cv=2**-0.5).mean()
    np.float64(2.0)
    """
    shape_form = alpha is not None or rate is not None
    mean_form = mu is not None or cv is not None
    if shape_form == mean_form:
        msg = (
            "get_theta_gamma_prior takes exactly one form: (alpha=, rate=) or (mu=, cv=); "
            f"got alpha={alpha!r}, rate={rate!r}, mu={mu!r}, cv={cv!r}."
        )
        raise ValueError(msg)
    if shape_form:
        if alpha is None or rate is None:
            msg = f"get_theta_gamma_prior needs both alpha and rate; got alpha={alpha!r}, rate={rate!r}."
            raise ValueError(msg)
        return GammaPrior.from_alpha_rate(alpha, rate).frozen()
    if mu is None or cv is None:
        msg = f"get_theta_gamma_prior needs both mu and cv; got mu={mu!r}, cv={cv!r}."
        raise ValueError(msg)
    return gamma_from_mean_cv(mu, cv)
