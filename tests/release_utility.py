"""The release's utility against the exact counts, on a synthetic store (not a test: run
`.venv/bin/python -m tests.release_utility [--results N] [--increments K] [--rho R]`).

Prints, over every increment measured and summed over all of them: the median and 95th
percentile absolute error per base cell at each level (all cells of the domain, zeros
included), per node x outcome (the outcome marginal) and per node total, and the
positive-rate error (percentage points) of every group of >= 1,000 screened in the tables
of several groupings.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from jobs.ingest.privacy.age import UNKNOWN
from jobs.release import measure_increment, released_table
from jobs.release.domain import CAMPAIGN, REGION, SITE, Domain, outcome_of
from jobs.store import ResultsStore
from kernel.lungrads import POSITIVE_CATEGORIES
from kernel.records import Outcome, StudyResult
from tests.report_results import cohort, sites_of
from tests.store_helpers import audit_key

BYS = (("region",), ("region", "site"), ("sex",), ("region", "sex"), ("age_band",),
       ("region", "age_band"))
_POSITIVE = {c.value for c in POSITIVE_CATEGORIES}


def _recoded(r: StudyResult) -> StudyResult:
    """As measured: codes outside the domain read as unknown."""
    codes = Domain(())
    return dataclasses.replace(
        r, age_band=r.age_band if r.age_band in codes.age_bands else UNKNOWN,
        sex=r.sex if r.sex in codes.sexes else UNKNOWN)


def _truth(results: list[StudyResult]) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for r in results:
        cell = (r.age_band, r.sex, outcome_of(
            r.outcome.value, r.category.value if r.category else None,
            r.reason.value if r.reason else None))
        for node in ((CAMPAIGN, "", ""), (REGION, r.region, ""), (SITE, r.region, r.site)):
            out[(*node, *cell)] += 1
    return out


def _screened(r: StudyResult, dims: tuple[str, ...]) -> tuple[tuple[str, ...], bool] | None:
    if r.outcome is not Outcome.SCREENED or r.category is None:
        return None
    return tuple(str(getattr(r, d)) for d in dims), r.category.value in _POSITIVE


def _stats(errors: list[float]) -> str:
    a = np.abs(np.array(errors, dtype=np.float64))
    return f"median {np.median(a):6.2f}  p95 {np.percentile(a, 95):6.2f}  (n={a.size})"


def main(argv: list[str] | None = None) -> None:
    """Build the store, measure its increments and print the errors."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--results", type=int, default=12_000)
    p.add_argument("--increments", type=int, default=6)
    p.add_argument("--rho", type=float, default=None, help="default: the release's default")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="the rate error by grouping")
    p.add_argument("--families", default=None, help="comma-separated (an experiment)")
    args = p.parse_args(argv)
    if args.families:
        from jobs.release import measure

        measure.FAMILIES = tuple(args.families.split(","))  # type: ignore[misc]
    results = [_recoded(r) for r in cohort(args.results, seed=args.seed)]
    step = args.results // args.increments
    kwargs = {} if args.rho is None else {"rho": args.rho}
    with tempfile.TemporaryDirectory() as tmp, ResultsStore.open(
            f"sqlite:///{Path(tmp) / 'r.db'}", audit_key=audit_key()) as store:
        store.ensure_campaign("u", spec_digest="d", model_name="m", model_version="1",
                              sites=sites_of(results))
        cell_errors: dict[str, list[float]] = {}
        margin_errors: dict[str, list[float]] = {}
        spent = 0.0
        for k in range(args.increments):
            part = results[k * step:(k + 1) * step]
            store.commit_results("u", part)
            t0 = time.perf_counter()
            measured = measure_increment(store, "u", **kwargs)  # type: ignore[arg-type]
            spent += time.perf_counter() - t0
            assert measured is not None
            sigma, rho = measured.measurement.sigma, measured.measurement.rho
            truth = _truth(part)
            base = {(c.level, c.region, c.site, c.age_band, c.sex, c.outcome): c.count
                    for c in store.release_base("u", [measured.increment.seq])}
            domain = measured.measurement.domain
            keys = {k[:3] for k in truth} | {k[:3] for k in base}
            for node in keys:
                out_t: Counter[str] = Counter()
                out_b: Counter[str] = Counter()
                for a in domain["age_bands"]:
                    for s in domain["sexes"]:
                        for o in domain["outcomes"]:
                            t, b = truth.get((*node, a, s, o), 0), base.get((*node, a, s, o), 0)
                            cell_errors.setdefault(node[0], []).append(b - t)
                            out_t[o] += t
                            out_b[o] += b
                margin_errors.setdefault(node[0], []).extend(
                    out_b[o] - out_t[o] for o in domain["outcomes"])
                margin_errors.setdefault(node[0] + " total", []).append(
                    sum(out_b.values()) - sum(out_t.values()))
        print(f"{args.results} results in {args.increments} increments; sigma {sigma:.3f}, "
              f"rho {rho:g} per increment; measuring took {spent:.2f} s in all")
        for level in (CAMPAIGN, REGION, SITE):
            print(f"  cell error, {level:8}: {_stats(cell_errors[level])}")
        for level in (CAMPAIGN, REGION, SITE):
            print(f"  outcome marginal, {level:8}: {_stats(margin_errors[level])}")
            print(f"  node total, {level:8}: {_stats(margin_errors[level + ' total'])}")
        rate_errors = []
        covered = total = 0
        for by in BYS:
            mark = len(rate_errors)
            table = released_table(store, "u", by=by)
            for level in {r.level for r in table.rows}:
                counts: dict[tuple[str, ...], list[int]] = {}
                for r in results:
                    got = _screened(r, level)
                    if got:
                        c = counts.setdefault(got[0], [0, 0])
                        c[0] += got[1]
                        c[1] += 1
                for row in table.rows:
                    n_pos = counts.get(row.key)
                    if row.level == level and n_pos and n_pos[1] >= 1000:
                        value = row.positive_rate.value or 0.0
                        rate_errors.append(100 * (value - n_pos[0] / n_pos[1]))
                    if row.level == level and n_pos and row.positive_rate.low is not None:
                        total += 1
                        covered += (row.positive_rate.low <= n_pos[0] / n_pos[1]
                                    <= (row.positive_rate.high or 1.0))
            if args.verbose and rate_errors[mark:]:
                print(f"    by {','.join(by)}: {len(rate_errors) - mark} groups, max "
                      f"{max(abs(e) for e in rate_errors[mark:]):.2f} pp")
        a = np.abs(np.array(rate_errors))
        print(f"  positive rate, groups >= 1,000 screened ({a.size} groups over "
              f"{len(BYS)} groupings): median {np.median(a):.2f} pp, p95 "
              f"{np.percentile(a, 95):.2f} pp, max {a.max():.2f} pp")
        print(f"  95% intervals holding the exact positive rate: {covered} of {total} groups")


if __name__ == "__main__":
    main()
