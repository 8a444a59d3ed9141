import numpy as np
import pytest

from STpuppeteer.simulation import (
    get_hk_gamma_prior,
    get_marker_gamma_prior,
    get_silence_gamma_prior,
    get_theta_gamma_prior,
)


@pytest.mark.parametrize("factory", [get_marker_gamma_prior, get_silence_gamma_prior])
@pytest.mark.parametrize(("mu", "cv"), [(0.75, 0.6), (0.05, 1.0), (3.0, 0.2)])
def test_mu_prior_has_requested_mean_and_cv(factory, mu, cv):
    prior = factory(mu=mu, cv=cv)
    assert prior.mean() == pytest.approx(mu, rel=1e-12)
    assert prior.std() / prior.mean() == pytest.approx(cv, rel=1e-12)
    assert prior.kwds["a"] == pytest.approx(1 / cv**2)


def test_hk_prior_accepts_positional_arguments():
    prior = get_hk_gamma_prior(0.2, 0.3)
    assert prior.mean() == pytest.approx(0.2)
    assert prior.std() == pytest.approx(0.06)


def test_theta_prior_both_forms_agree():
    by_rate = get_theta_gamma_prior(alpha=2.0, rate=0.5)
    by_cv = get_theta_gamma_prior(mu=4.0, cv=2**-0.5)
    assert by_rate.mean() == pytest.approx(4.0)
    assert by_cv.mean() == pytest.approx(by_rate.mean())
    assert by_cv.std() == pytest.approx(by_rate.std())


def test_prior_samples_match_moments(rng):
    n = 200_000
    prior = get_marker_gamma_prior(mu=0.75, cv=0.6)
    x = prior.rvs(n, random_state=rng)
    se_mean = 0.75 * 0.6 / np.sqrt(n)
    assert abs(x.mean() - 0.75) < 5 * se_mean


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"alpha": 2.0}, {"rate": 1.0}, {"alpha": 2.0, "rate": 1.0, "mu": 2.0}, {"mu": 2.0}],
)
def test_theta_prior_needs_exactly_one_complete_form(kwargs):
    with pytest.raises(ValueError, match=r"get_theta_gamma_prior (takes exactly one form|needs both)"):
        get_theta_gamma_prior(**kwargs)


@pytest.mark.parametrize(("mu", "cv"), [(0.0, 0.5), (-1.0, 0.5), (1.0, 0.0), (1.0, float("nan"))])
def test_mu_prior_rejects_non_positive(mu, cv):
    with pytest.raises(ValueError, match="expected a positive finite float"):
        get_marker_gamma_prior(mu=mu, cv=cv)
