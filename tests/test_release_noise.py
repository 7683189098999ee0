"""The release's noise and reconciliation: OpenDP's discrete Gaussian calibrated as
published (mean 0, variance sigma^2) through the same call that measures, OpenDP's own
accounting of rho, and the least-squares reconciliation into non-negative integers that add
up at every level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jobs.release.measure import DEFAULT_RHO
from jobs.release.noise import noisy_counts, sigma_for
from jobs.release.reconcile import least_squares, reconcile, round_to_totals
from kernel.errors import BadInput

DRAWS = 100_000
# campaign, two regions, three sites under the first and two under the second
PARENTS = [-1, 0, 0, 1, 1, 1, 2, 2]
CHILDREN = {0: [1, 2], 1: [3, 4, 5], 2: [6, 7]}


def test_noise_has_mean_zero_and_variance_sigma_squared():
    noisy = noisy_counts([0] * DRAWS, rho=DEFAULT_RHO, levels=3, families=4)
    draws = np.array(noisy.values, dtype=np.float64)
    sigma2 = noisy.sigma ** 2
    assert sigma2 == pytest.approx(12 / (2 * DEFAULT_RHO))
    # 5 standard errors: the mean's is sigma / sqrt(n), the sample variance's
    # sigma^2 sqrt(2 / (n - 1)) (a Gaussian's; the discrete one's is the same to 1e-80)
    assert abs(draws.mean()) < 5 * math.sqrt(sigma2 / DRAWS)
    assert abs(draws.var(ddof=1) - sigma2) < 5 * sigma2 * math.sqrt(2 / (DRAWS - 1))
    assert draws.dtype == np.float64 and np.all(draws == np.round(draws))  # integers


def test_noise_is_added_to_the_counts_given():
    noisy = noisy_counts([1000] * 20_000, rho=DEFAULT_RHO, levels=3)
    assert abs(np.mean(noisy.values) - 1000) < 5 * noisy.sigma / math.sqrt(20_000)


@pytest.mark.parametrize(("rho", "levels", "families"),
                         [(0.15, 3, 1), (0.05, 3, 4), (1.0, 2, 1), (0.2, 4, 3), (0.5, 3, 4)])
def test_opendp_accounts_the_configured_rho(rho, levels, families):
    noisy = noisy_counts([3, 0, 7], rho=rho, levels=levels, families=families)
    assert noisy.rho == rho
    assert noisy.sensitivity == pytest.approx(math.sqrt(levels * families))
    assert noisy.sigma == pytest.approx(math.sqrt(levels * families / (2 * rho)))
    assert noisy.sensitivity ** 2 / (2 * noisy.sigma ** 2) == pytest.approx(rho)


@pytest.mark.parametrize("rho", [0.0, -1.0, math.inf, math.nan])
def test_a_bad_rho_is_refused(rho):
    with pytest.raises(BadInput, match="rho"):
        sigma_for(rho, 3)


def _tree(rng: np.random.Generator, cells: int) -> np.ndarray:
    truth = np.zeros((len(PARENTS), cells), dtype=np.int64)
    truth[3:] = rng.poisson(1.5, (5, cells))
    for parent in (2, 1, 0):
        truth[parent] = truth[CHILDREN[parent]].sum(axis=0)
    return truth


def _consistent(counts: np.ndarray) -> bool:
    return all(np.allclose(counts[p], counts[c].sum(axis=0)) for p, c in CHILDREN.items())


def test_least_squares_adds_up_and_keeps_exact_counts():
    rng = np.random.default_rng(1)
    truth = _tree(rng, 300)
    assert np.allclose(least_squares(truth.astype(float), PARENTS, 10.0), truth)
    noisy = truth + rng.normal(0, math.sqrt(10), truth.shape)
    fitted = least_squares(noisy, PARENTS, 10.0)
    assert _consistent(fitted)
    # fitting the sums helps every node
    assert np.all(((fitted - truth) ** 2).mean(axis=1) < ((noisy - truth) ** 2).mean(axis=1))


def test_reconciled_counts_are_nonnegative_integers_that_add_up():
    rng = np.random.default_rng(2)
    truth = _tree(rng, 500)
    noisy = truth + rng.integers(-6, 7, truth.shape)
    base = reconcile(noisy, PARENTS, 10.0)
    assert base.dtype == np.int64 and (base >= 0).all()
    assert _consistent(base)
    assert base[0].sum() == max(0, round(least_squares(noisy.astype(float), PARENTS, 10.0)[0]
                                         .sum()))
    assert np.array_equal(reconcile(noisy, PARENTS, 10.0), base)  # deterministic


def test_rounding_under_totals_is_the_nearest_nonnegative_split():
    values = np.array([[0.4, -1.0, 2.0], [0.4, 5.0, 2.0], [0.3, 2.5, 2.0]])
    out = round_to_totals(values, np.array([1, 3, 0]))
    assert out.tolist() == [[1, 0, 0], [0, 3, 0], [0, 0, 0]]
    rng = np.random.default_rng(3)
    values = rng.normal(0.5, 3, (6, 2000))
    totals = rng.integers(0, 12, 2000)
    out = round_to_totals(values, totals)
    assert (out >= 0).all() and np.array_equal(out.sum(axis=0), totals)
