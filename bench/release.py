"""`lungscreen bench release`: the analysts' release on synthetic campaigns (medians of runs).

For each campaign size (`--results`, default 10,000 and 100,000; 1,000,000 on request):

- measure: one increment over every result of the campaign, the whole path
  (jobs.release.measure_increment on a SQLite store: reading the results, counting, noise,
  reconciliation, storing the base); each run on a fresh copy of the same store;
- tables: `--tables` (default 500) released tables as JSON, cycling through every grouping of
  region, site, age band and sex (16, the campaign's total included) over every period of
  whole increments, from a store whose results were measured in 5 increments; each run
  starts with no parsed base kept in the process;
- errors of the published figures against the exact ones: per base cell of each increment,
  by level of the geography tree (zeros included), and the positive rate (percentage
  points) of every group of >= 1,000 screened over the whole campaign.

The data are bench.report.synthetic_results (pseudonyms; 3 regions x 3 sites); the noise is
the release's own, at the deployment's defaults (jobs.release.budget).
"""

from __future__ import annotations

import itertools
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.release_errors import ExactRates, cell_errors, error_stats, rate_errors
from bench.report import synthetic_results
from jobs.release import measure_increment, released_table, render_released
from jobs.release.domain import LEVELS, Domain
from jobs.release.tables import clear_parsed
from jobs.store import AuditKey, ResultsStore
from kernel.records import StudyResult

__all__ = ["GROUPINGS", "ReleaseBenchOptions", "ReleaseFigures", "run_release_bench"]

GROUPINGS: tuple[tuple[str, ...], ...] = tuple(
    by for n in range(5) for by in itertools.combinations(("region", "site", "age_band", "sex"), n))
_CAMPAIGN = "bench-release"


@dataclass(frozen=True)
class ReleaseBenchOptions:
    """Campaign sizes, timed runs, tables per run and increments of the tables' store."""

    results: tuple[int, ...] = (10_000, 100_000)
    runs: int = 3
    tables: int = 500
    increments: int = 5
    seed: int = 0


@dataclass(frozen=True)
class ReleaseFigures:
    """One entry per campaign size."""

    sizes: list[dict[str, Any]] = field(default_factory=list)
    runs: int = 0

    def lines(self) -> list[str]:
        out = [f"release: measure, tables and errors; medians of {self.runs} run(s) "
               "(targets: 1,000,000 results measured < 5 s; 500 tables < 10 s)"]
        for s in self.sizes:
            t = s["tables"]
            out.append(f"  {s['results']:>9,} results: measure one increment "
                       f"{s['measure_s']:.3f} s; {t['count']} tables ({t['distinct']} "
                       f"requests, JSON) {t['median_s']:.3f} s ({1000 * t['per_table_s']:.2f} "
                       f"ms each){'' if t['identical'] else '; REPEATS DIFFER'}")
            out.append("      measuring increments 1.." + str(len(s["increment_measure_s"]))
                       + " in turn (each reads its persons' budget spent so far): "
                       + ", ".join(f"{v:.3f}" for v in s["increment_measure_s"]) + " s")
            cells = s["cell_error"]
            out.append("      |published - exact| per base cell: " + "; ".join(
                f"{level} median {cells[level]['median']:g} p95 {cells[level]['p95']:g}"
                for level in LEVELS))
            r = s["positive_rate_error_pp"]
            out.append(f"      positive rate, {r['n']} groups >= 1,000 screened: median "
                       f"{r['median']:g} pp, p95 {r['p95']:g} pp, max {r['max']:g} pp")
        return out

    def to_json(self) -> str:
        return json.dumps({"runs": self.runs, "sizes": self.sizes}, indent=2)


def _open(path: Path, key: AuditKey) -> ResultsStore:
    return ResultsStore.open(f"sqlite:///{path}", audit_key=key)


def _store(path: Path, key: AuditKey, results: Sequence[StudyResult], increments: int
           ) -> tuple[list[dict[str, Any]], list[float]]:
    """A store of `results`, committed in `increments` parts; measured after each when
    `increments` > 1 (then each part's cell errors and measuring time are returned)."""
    step = -(-len(results) // increments)
    errors: list[dict[str, Any]] = []
    times: list[float] = []
    with _open(path, key) as store:
        sites: dict[str, set[str]] = {}
        for r in results:
            sites.setdefault(r.region, set()).add(r.site)
        store.ensure_campaign(_CAMPAIGN, spec_digest="bench", model_name="m", model_version="1",
                              sites={region: sorted(s) for region, s in sites.items()})
        for at in range(0, len(results), step):
            part = results[at:at + step]
            store.commit_results(_CAMPAIGN, part)
            if increments > 1:
                started = time.perf_counter()
                measured = measure_increment(store, _CAMPAIGN)
                times.append(time.perf_counter() - started)
                assert measured is not None
                seq = measured.increment.seq
                errors.append(cell_errors(Domain.from_json(measured.measurement.domain), part,
                                          store.release_base(_CAMPAIGN, [seq])))
    return errors, times


def _measure_s(template: Path, work: Path, key: AuditKey) -> float:
    path = work / "measure.db"
    shutil.copyfile(template, path)
    path.chmod(0o600)
    with _open(path, key) as store:
        t0 = time.perf_counter()
        measured = measure_increment(store, _CAMPAIGN)
        spent = time.perf_counter() - t0
    assert measured is not None
    path.unlink()
    return spent


def _requests(increments: int, count: int) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    periods = [tuple(range(a, b + 1)) for a in range(1, increments + 1)
               for b in range(a, increments + 1)]
    every = [(by, p) for p in periods for by in GROUPINGS]
    return [every[(i * 7919) % len(every)] for i in range(count)]  # a fixed, mixed order


def _tables_s(path: Path, key: AuditKey, requests: list[tuple[tuple[str, ...],
              tuple[int, ...]]]) -> tuple[float, bool]:
    """Seconds for every request, from no parsed base; and whether repeats were identical."""
    clear_parsed()
    first: dict[tuple[tuple[str, ...], tuple[int, ...]], str] = {}
    identical = True
    with _open(path, key) as store:
        t0 = time.perf_counter()
        for by, period in requests:
            text = render_released(released_table(store, _CAMPAIGN, by=by, increments=period),
                                   "json")
            identical &= first.setdefault((by, period), text) == text
        return time.perf_counter() - t0, identical


def _one_size(n: int, o: ReleaseBenchOptions, work: Path, key: AuditKey) -> dict[str, Any]:
    results = list(synthetic_results(n, seed=o.seed))
    _store(work / "template.db", key, results, 1)
    measure = [_measure_s(work / "template.db", work, key) for _ in range(o.runs)]
    (work / "template.db").unlink()
    tables_db = work / "tables.db"
    per_increment, later = _store(tables_db, key, results, o.increments)
    requests = _requests(len(per_increment), o.tables)
    timed = [_tables_s(tables_db, key, requests) for _ in range(o.runs)]
    clear_parsed()
    with _open(tables_db, key) as store:
        whole = [released_table(store, _CAMPAIGN, by=by) for by in GROUPINGS]
    tables_db.unlink()
    median = statistics.median(t for t, _ in timed)
    return {
        "results": n,
        "measure_s": round(statistics.median(measure), 4),
        "measure_runs_s": [round(t, 4) for t in measure],
        # each increment of the tables' store, in order: each reads what its persons have
        # spent in the earlier ones (jobs.store.release.spent_of)
        "increment_measure_s": [round(t, 4) for t in later],
        "tables": {"count": len(requests), "distinct": len(set(requests)),
                   "increments": len(per_increment), "median_s": round(median, 4),
                   "per_table_s": round(median / max(len(requests), 1), 6),
                   "runs_s": [round(t, 4) for t, _ in timed],
                   "identical": all(same for _, same in timed)},
        "cell_error": {level: error_stats([e for part in per_increment for e in part[level]])
                       for level in LEVELS},
        "positive_rate_error_pp": error_stats(rate_errors(whole, ExactRates(results))),
    }


def run_release_bench(options: ReleaseBenchOptions | None = None) -> ReleaseFigures:
    """Measure, derive and compare for each campaign size of `options`."""
    o = options or ReleaseBenchOptions()
    if o.runs < 1 or o.tables < 0 or o.increments < 1 or not o.results or min(o.results) < 1:
        raise ValueError(f"bench release: runs, increments and results must be >= 1: {o}")
    with tempfile.TemporaryDirectory(prefix="lungscreen-bench-release-") as tmp:
        key = AuditKey.load(Path(tmp) / "state")  # a throwaway key for throwaway stores
        sizes = []
        for n in o.results:
            work = Path(tmp) / str(n)
            work.mkdir(mode=0o700)
            sizes.append(_one_size(n, o, work, key))
    return ReleaseFigures(sizes, o.runs)
