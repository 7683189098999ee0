"""The attacker test of the release (tests/release_attack.py): a synthetic store of 2,400
results over 3 regions x 3 sites, age bands and sexes, in 6 increments; 10 and then 50
releases over groupings and periods, solved together by an exact integer programme, by least
squares and rounding, and by averaging. The integer programme and averaging recover true
counts 1-10 exactly no more often than reading the noisy base itself (about one noisy
measurement's rate), with 10 releases or 50; least squares, whose rounding drifts towards
"every cell holds 1", stays below a guess that reads no count and does not gain from more
releases. The recovery the release removed is kept beside it: tests/test_release_differencing.py
(the exact, suppressed tables place a newcomer by difference; the released ones do not)."""

from __future__ import annotations

import random
import time

import pytest

from jobs.release import measure_increment
from jobs.store import ResultsStore
from tests.release_attack import attack, single_measurement_rate, truth
from tests.report_results import cohort, sites_of
from tests.store_helpers import audit_key

CID = "attack-1"
INCREMENTS, PER_INCREMENT = 6, 400
GROUPINGS = (("region",), ("region", "site"), ("age_band",), ("sex",), ("region", "sex"),
             ("age_band", "sex"), ("region", "age_band"), ("region", "site", "sex"),
             ("region", "site", "age_band"), ("region", "site", "age_band", "sex"),
             ("sex", "age_band", "region"), ("site", "sex"))


def _releases(n: int) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    seqs = range(1, INCREMENTS + 1)
    periods = [(s,) for s in seqs] + [tuple(range(1, k + 1)) for k in range(2, INCREMENTS + 1)]
    periods += [(1, 3, 5), (2, 4, 6), (4, 5, 6)]
    every = [(by, p) for by in GROUPINGS for p in periods]
    return random.Random(7).sample(every, n)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    results = cohort(INCREMENTS * PER_INCREMENT, seed=21)
    batches = [results[k * PER_INCREMENT:(k + 1) * PER_INCREMENT] for k in range(INCREMENTS)]
    url = f"sqlite:///{tmp_path_factory.mktemp('attack') / 'r.db'}"
    with ResultsStore.open(url, audit_key=audit_key()) as s:
        s.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1",
                          sites=sites_of(results))
        for batch in batches:
            s.commit_results(CID, batch)
            assert measure_increment(s, CID) is not None
        yield s, truth(batches)


def test_many_releases_recover_no_more_than_one_noisy_measurement(store):
    s, true = store
    started = time.perf_counter()
    sigma = s.measurements(CID)[0].sigma
    single = single_measurement_rate(sigma)
    few, many = (attack(s, CID, true, _releases(n)) for n in (10, 50))
    print(f"\nsigma {sigma:.3f}: one noisy measurement reads a count exactly {single:.3f}; "
          f"{few}; {many}; {time.perf_counter() - started:.1f} s")
    assert many.releases == 50 and many.numbers > few.numbers
    for result in (few, many):
        # the exact integer programme and averaging get no further than the noisy base
        # every release is derived from (sampling slack 0.03 over ~1,500 small counts)
        assert result.milp <= result.base + 0.03, result
        assert result.averaging <= result.base + 0.03, result
        # least squares spreads group totals into ~1 per cell: a guess, not a recovery;
        # it stays below the guess that reads no count at all
        assert result.least_squares < result.guess, result
    # more releases do not help least squares, and nothing passes the base at 50
    assert many.least_squares <= few.least_squares + 0.03
    assert max(many.milp, many.averaging) <= few.base + 0.03
    # the base reads small counts exactly about as often as one noisy measurement does
    # (a little more: reconciliation averages the tree and the marginals)
    assert many.base <= single + 0.1
    assert time.perf_counter() - started < 30
