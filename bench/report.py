"""`lungscreen bench report`: aggregation throughput and suppression time, medians of runs.

Results are synthetic StudyResults (pseudonyms, 3 regions x 3 sites, 6 age bands, 2 sexes,
~5% opted out, ~10% quarantined); no store or DICOM is involved, so the figures are the
cost of jobs.report.aggregate and jobs.report.suppression alone.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator

from jobs.report import aggregate, build_report
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import categorize_study
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult

__all__ = ["run_report_bench", "synthetic_results"]

_AGES = ("50-54", "55-59", "60-64", "65-69", "70-74", "75-80")
_REASONS = (Reason.SLICE_GAP, Reason.NOT_CT, Reason.DECODE_FAILED)
BYS = (("region",), ("region", "site"), ("region", "sex"), ("region", "site", "age_band", "sex"))


def synthetic_results(n: int, seed: int = 0) -> Iterator[StudyResult]:
    """`n` PHI-free results with a plausible outcome and nodule mix."""
    rng = random.Random(seed)
    for i in range(n):
        r = rng.randrange(3)
        region, site = f"region-{r}", f"r{r}-site-{rng.randrange(3)}"
        age, sex = rng.choice(_AGES), rng.choice("FM")
        u = rng.random()
        common = (f"s{i}", f"p{i}", region, site, age, sex)
        if u < 0.05:
            yield StudyResult(*common, Outcome.OPTED_OUT, "m", "1", reason=Reason.OPTED_OUT)
        elif u < 0.15:
            yield StudyResult(*common, Outcome.QUARANTINED, "m", "1", reason=rng.choice(_REASONS))
        else:
            nodules = tuple(Nodule(1, 1, 1, d, d, NoduleType.SOLID, 0.9)
                            for d in (rng.expovariate(1 / 5) for _ in range(rng.randrange(3))))
            yield StudyResult(*common, Outcome.SCREENED, "m", "1",
                              category=categorize_study(nodules), nodules=nodules)


def run_report_bench(runs: int = 3, studies: int = 20_000) -> dict[str, object]:
    """Median seconds to aggregate `studies` results, and to build the suppressed report
    for each grouping in BYS (aggregation excluded), over `runs` runs."""
    results = list(synthetic_results(studies))
    agg_s: list[float] = []
    report_s: dict[str, list[float]] = {",".join(b): [] for b in BYS}
    hidden: dict[str, int] = {}
    for _ in range(runs):
        t0 = time.perf_counter()
        aggregation = aggregate(results, by=("region", "site", "age_band", "sex"))
        agg_s.append(time.perf_counter() - t0)
        for by in BYS:
            grouped = aggregate(results, by=by)
            t0 = time.perf_counter()
            report = build_report("bench", grouped, by=by)
            report_s[",".join(by)].append(time.perf_counter() - t0)
            hidden[",".join(by)] = report.hidden_cells
        del aggregation
    agg_median = statistics.median(agg_s)
    return {
        "studies": studies,
        "runs": runs,
        "aggregate_median_s": round(agg_median, 4),
        "aggregate_studies_per_s": round(studies / agg_median),
        "report_median_s": {k: round(statistics.median(v), 3) for k, v in report_s.items()},
        "hidden_cells": hidden,
    }
