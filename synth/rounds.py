"""Planning the next screening round of a cohort: a pure function from the prior to plans.

Every person of the prior comes back `months` later (exact calendar months) at the same
site with a new acquisition (`Acquisition.draw`; another scanner in about a fifth of
studies) and their nodules grown, stable, smaller or resolved, plus new ones. New people
join: about a tenth as new entrants (round 1, no prior) and about a twentieth whose
header says they were screened before but whose prior is nowhere (`prior_expected`).
About a tenth of the priors have lost their pixels (recorded, nothing deleted).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import numpy as np

from kernel.contract import NoduleType
from synth.acquisition import Acquisition
from synth.dicom_writer import VENDORS
from synth.followup import Carried, FollowUp, NewNodule, PriorLink, Visit
from synth.people import Site, make_identity, next_identity
from synth.plan import StudyPlan, assign_defects, make_uid, pick_syntax
from synth.priors import PriorCohort, PriorStudy

__all__ = ["add_months", "plan_follow_up"]

# (share, change, smallest and largest change in mm) for each prior nodule
_CHANGES = ((0.16, "grown", 1.6, 4.0),  # beyond Lung-RADS' 1.5 mm
            (0.14, "grown", 0.5, 1.4),  # growing, but not yet by the rules
            (0.44, "stable", -0.3, 0.3),
            (0.13, "smaller", -2.5, -0.6),
            (0.13, "resolved", 0.0, 0.0))
# new nodules' sizes: below 4 mm, 4-6, 6-8 and 8 mm or more (Lung-RADS' new-nodule bins)
_NEW_SIZES = ((0.3, 3.0, 3.9), (0.3, 4.0, 5.9), (0.2, 6.0, 7.9), (0.2, 8.0, 14.0))


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole calendar months (the 31st becomes the month's last day)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def _carried(rng: np.random.Generator, prior: PriorStudy) -> list[Carried]:
    shapes = dict(prior.person.shapes) if prior.person.shapes is not None else None
    shares = np.array([c[0] for c in _CHANGES])
    out = []
    for n in prior.truth["nodules"]:
        _, change, lo, hi = _CHANGES[int(rng.choice(len(_CHANGES), p=shares / shares.sum()))]
        before = float(n["diameter_mm"])
        target = round(before + round(float(rng.uniform(lo, hi)), 1), 1)
        if change == "smaller" and target < max(2.0, 0.5 * before):
            change, target = "stable", before  # too small to shrink visibly
        if change == "resolved":
            target = 0.0
        number = int(str(n["nodule_id"]).rsplit("-", 1)[1])
        out.append(Carried(
            nodule_id=str(n["nodule_id"]), number=number, change=change, target_mm=target,
            prior_diameter_mm=before, prior_solid_diameter_mm=float(n["solid_diameter_mm"]),
            prior_centre_lps_mm=tuple(float(v) for v in n["centre_lps_mm"]),  # type: ignore[arg-type]
            spec=None if shapes is None else shapes.get(number)))
    return out


def _new_nodules(rng: np.random.Generator, first_number: int) -> list[NewNodule]:
    count = int(rng.choice(3, p=[0.6, 0.3, 0.1]))
    shares = np.array([s[0] for s in _NEW_SIZES])
    out = []
    for k in range(count):
        _, lo, hi = _NEW_SIZES[int(rng.choice(len(_NEW_SIZES), p=shares))]
        size = round(float(rng.uniform(lo, hi)), 1)
        kind = NoduleType(int(rng.choice(3, p=[0.7, 0.1, 0.2])))
        if kind is NoduleType.PART_SOLID and size < 6.0:
            kind = NoduleType.SOLID
        out.append(NewNodule(first_number + k, kind, size))
    return out


def _pivot(truth: dict[str, Any]) -> tuple[float, float, float]:
    """The centre of the prior's volume (LPS mm): what the repositioning turns about."""
    first = np.asarray(truth["first_slice_lps_mm"], dtype=np.float64)
    d, h, w = truth["shape"]
    dz, dy, dx = truth["spacing"]
    c = first + np.array([(w - 1) * dx, (h - 1) * dy, (d - 1) * dz]) / 2.0
    return (float(c[0]), float(c[1]), float(c[2]))


def _scanner(rng: np.random.Generator, prior: PriorStudy,
             vendor_share: float) -> tuple[int, tuple[tuple[str, float], ...], bool]:
    """The new scan's vendor and ScanParams overrides: the prior's, or another vendor's
    (kernel and noise texture) in `vendor_share` of studies."""
    person = prior.person
    if rng.uniform() >= vendor_share:
        return person.vendor, person.scanner, False
    others = [v for v in range(len(VENDORS)) if v != person.vendor]
    kernel = float(rng.uniform(-0.08, 0.2))
    corr = float(np.clip(0.2 + 0.4 * kernel + rng.uniform(-0.05, 0.05), 0.08, 0.3))
    vendor = others[int(rng.integers(len(others)))]
    return vendor, (("kernel", kernel), ("noise_corr", corr)), True


def _follow(i: int, prior: PriorStudy, rng: np.random.Generator, *, seed: int, key: str,
            months: int, cohort_round: int, defect: str | None, pixels: bool, canary: bool,
            vendor_share: float) -> StudyPlan:
    person, truth = prior.person, prior.truth
    prior_day = _date(truth["study_date"])
    day = add_months(prior_day, months)
    identity = next_identity(rng, person.identity, person.site, i, day, canary=canary,
                             cohort_round=cohort_round)
    vendor, scanner, changed = _scanner(rng, prior, vendor_share)
    acq = Acquisition.draw(rng, _pivot(truth))
    carried = _carried(rng, prior)
    new = _new_nodules(rng, person.next_number)
    visit = Visit(pose=person.pose.then(acq.pose()), table_z=person.table_z,
                  carried=tuple(carried), new=tuple(new), seed=int(rng.integers(2**31)),
                  next_number=person.next_number + len(new), scanner=scanner)
    link = PriorLink(str(truth["study_uid"]), str(truth["study_date"]),
                     (day - prior_day).days, pixels)
    return StudyPlan(
        index=i, seed=int(truth["phantom_seed"]), profile=str(truth["profile"]),
        site=person.site, identity=identity, vendor=vendor, syntax=pick_syntax(rng, defect),
        defect=defect, study_uid=make_uid(seed, key, months, i, "study"),
        frame_uid=make_uid(seed, key, months, i, "frame"),
        uid_root=make_uid(seed, key, months, i, "series")[:40], table_z=person.table_z,
        kvp=person.kvp, tube_ma=float(rng.uniform(15.0, 60.0)),
        patient_position=person.patient_position, detail_seed=int(rng.integers(2**31)),
        round=prior.round + 1, person=person.key,
        follow_up=FollowUp(visit, link, True, acq, changed))


def _newcomer(i: int, site: Site, rng: np.random.Generator, *, seed: int, key: str,
              months: int, cohort_round: int, day: dt.date, defect: str | None, profile: str,
              canary: bool, missing: bool) -> StudyPlan:
    """A person new to the cohort: a first scan (round 1), or one whose header says it is
    round `cohort_round` though no prior can be found (`missing`)."""
    return StudyPlan(
        index=i, seed=int(np.random.SeedSequence([seed, months, int(key, 16), i])
                          .generate_state(1)[0]),
        profile=profile, site=site,
        identity=make_identity(rng, site, i, canary=canary, cohort_round=cohort_round,
                               study_day=day),
        vendor=int(rng.integers(len(VENDORS))), syntax=pick_syntax(rng, defect), defect=defect,
        study_uid=make_uid(seed, key, months, i, "study"),
        frame_uid=make_uid(seed, key, months, i, "frame"),
        uid_root=make_uid(seed, key, months, i, "series")[:40],
        table_z=float(-rng.uniform(100.0, 450.0)), kvp=float(rng.choice([100.0, 110.0, 120.0])),
        tube_ma=float(rng.uniform(15.0, 60.0)),
        patient_position=str(rng.choice(["FFS", "HFS"], p=[0.3, 0.7])),
        detail_seed=int(rng.integers(2**31)), round=cohort_round if missing else 1,
        person=f"{i}r{cohort_round}",
        follow_up=FollowUp(None, None, missing, None))


def plan_follow_up(prior: PriorCohort, *, seed: int, months: int, defects: bool = False,
                   defect_share: float = 0.4, canary: bool = False, new_share: float = 0.1,
                   missing_share: float = 0.05, unavailable_share: float = 0.1,
                   vendor_share: float = 0.2) -> tuple[StudyPlan, ...]:
    """One plan per study of the next round (the prior's people in their order, then the
    new entrants, then the people whose prior is missing); deterministic for the prior's
    contents, `seed` and `months`."""
    key = prior.digest[:16]
    rng = np.random.default_rng(np.random.SeedSequence([seed, months, int(key, 16), 0xF011]))
    n = len(prior.studies)
    n_new, n_missing = round(new_share * n), round(missing_share * n)
    total = n + n_new + n_missing
    cohort_round = prior.round + 1
    lost = set(rng.permutation(n)[:round(unavailable_share * n)].tolist())
    defect_of = assign_defects(rng, total, defect_share if defects else 0.0)

    def study_rng(i: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, months, int(key, 16),
                                                             0x57D7, i]))

    plans = [_follow(i, s, study_rng(i), seed=seed, key=key, months=months,
                     cohort_round=cohort_round, defect=defect_of.get(i), pixels=i not in lost,
                     canary=canary, vendor_share=vendor_share)
             for i, s in enumerate(prior.studies)]
    sites: dict[str, list[Site]] = {}
    for s in prior.studies:
        if s.person.site not in sites.setdefault(s.person.site.region, []):
            sites[s.person.site.region].append(s.person.site)
    regions = sorted(sites)
    days = sorted(p.identity.StudyDate for p in plans)
    first_day, last_day = _date(days[0]), _date(days[-1])
    for i in range(n, total):
        srng = study_rng(i)
        region = regions[i % len(regions)]
        site = sites[region][int(srng.integers(len(sites[region])))]
        day = first_day + dt.timedelta(days=int(srng.integers((last_day - first_day).days + 1)))
        plans.append(_newcomer(i, site, srng, seed=seed, key=key, months=months,
                               cohort_round=cohort_round, day=day, defect=defect_of.get(i),
                               profile=prior.profile, canary=canary, missing=i >= n + n_new))
    return tuple(plans)
