"""Hand-built StudyResults for the aggregation, report and recall tests (no PHI: pseudonyms)."""

from __future__ import annotations

import random

from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category, categorize_study
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult

AGE_BANDS = ("50-54", "55-59", "60-64", "65-69", "70-74", "75-80")
_REASONS = (Reason.SLICE_GAP, Reason.NOT_CT, Reason.DECODE_FAILED)


def solid(diameter_mm: float) -> Nodule:
    return Nodule(10.0, 20.0, 30.0, diameter_mm, diameter_mm, NoduleType.SOLID, 0.9)


def screened(region: str, site: str, nodules: tuple[Nodule, ...] = (), *, i: int = 0,
             age_band: str = "60-64", sex: str = "F",
             timings: dict[str, float] | None = None) -> StudyResult:
    return StudyResult(f"study-{region}-{i}", f"pat-{region}-{i}", region, site, age_band, sex,
                       Outcome.SCREENED, "lung_nodule_detector", "1",
                       category=categorize_study(nodules), nodules=nodules,
                       timings=timings or {})


def quarantined(region: str, site: str, reason: Reason, *, i: int = 0) -> StudyResult:
    return StudyResult(f"study-{region}-q{i}", f"pat-{region}-q{i}", region, site, "60-64", "M",
                       Outcome.QUARANTINED, "lung_nodule_detector", "1", reason=reason)


def opted_out(region: str, site: str, *, i: int = 0) -> StudyResult:
    return StudyResult(f"study-{region}-o{i}", f"pat-{region}-o{i}", region, site, "60-64", "M",
                       Outcome.OPTED_OUT, "lung_nodule_detector", "1")


def cohort(n: int, seed: int = 0, regions: int = 3, sites: int = 3) -> list[StudyResult]:
    """n results over `regions` x `sites`, ~5% opted out, ~10% quarantined, random nodules."""
    rng = random.Random(seed)
    out: list[StudyResult] = []
    for i in range(n):
        r = rng.randrange(regions)
        region, site = f"region-{r}", f"r{r}-site-{rng.randrange(sites)}"
        age, sex = rng.choice(AGE_BANDS), rng.choice("FM")
        u = rng.random()
        if u < 0.05:
            out.append(opted_out(region, site, i=i))
        elif u < 0.15:
            out.append(quarantined(region, site, rng.choice(_REASONS), i=i))
        else:
            nodules = tuple(solid(rng.expovariate(1 / 5)) for _ in range(rng.randrange(3)))
            out.append(screened(region, site, nodules, i=i, age_band=age, sex=sex,
                                timings={"load": 0.2, "infer": 0.5, "postprocess": 0.01}))
    return out


def sites_of(results: list[StudyResult]) -> dict[str, list[str]]:
    """Region -> the sites `results` hold, as a campaign declares them (ensure_campaign's
    `sites`)."""
    out: dict[str, set[str]] = {}
    for r in results:
        out.setdefault(r.region, set()).add(r.site)
    return {region: sorted(codes) for region, codes in out.items()}


__all__ = ["AGE_BANDS", "Category", "cohort", "opted_out", "quarantined", "screened", "sites_of",
           "solid"]
