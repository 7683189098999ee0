"""Planning the next screening round of a varied cohort: a pure function from the prior.

Every person of the prior comes back `months` later (calendar months) at the same site,
repositioned (pose.draw_reposition), with the site's protocol kept or, in `protocol_share` of
studies, a new one (half of those on another vendor's scanner), and their nodules'
fates drawn (changes.py). New people join: `new_share` as new entrants (round 1) and
`missing_share` whose header says they were screened before though no prior is found.
`unavailable_share` of the priors have lost their pixels (recorded; nothing deleted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from synth.dicom_writer import VENDORS
from synth.followup import PriorLink
from synth.people import Site, make_identity, next_identity
from synth.plan import StudyPlan, make_uid, pick_syntax
from synth.rounds import add_months
from synth_varied.changes import draw_fates, draw_new
from synth_varied.patient import draw_patient
from synth_varied.persons import Person
from synth_varied.pose import anatomy_to_lps, draw_reposition
from synth_varied.prior import FAMILY, PriorRound
from synth_varied.revisit import Visit
from synth_varied.volume import seed_streams

__all__ = ["RoundStudy", "plan_varied_round"]


@dataclass(frozen=True)
class RoundStudy:
    """One study of the round: its plan and, for a known person, the visit and its prior."""

    plan: StudyPlan
    visit: Visit | None  # None: drawn as a first scan (new entrant, or prior missing)
    link: PriorLink | None
    prior_expected: bool
    vendor_changed: bool = False
    overrides: tuple[tuple[str, Any], ...] = ()  # Scan fields every study of the cohort has


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def _apex(person: Person) -> tuple[float, float, float]:
    """The top of the person's lungs in their prior scan's LPS (what a breath hold keeps)."""
    pat = draw_patient(seed_streams(person.seed)[0])
    lps = person.pose.apply(anatomy_to_lps(np.array([pat.lung_height, 0.0, 0.0]),
                                           person.table_z))
    return (float(lps[0]), float(lps[1]), float(lps[2]))


def _uids(seed: int, key: str, months: int, i: int) -> tuple[str, str, str]:
    """The study's study, frame and series-root UIDs."""
    return (make_uid(seed, FAMILY, key, months, i, "study"),
            make_uid(seed, FAMILY, key, months, i, "frame"),
            make_uid(seed, FAMILY, key, months, i, "series")[:40])


def _revisit(i: int, person: Person, truth: dict[str, Any], rng: np.random.Generator, *,
             seed: int, key: str, months: int, cohort_round: int, pixels: bool, canary: bool,
             protocol_share: float, overrides: tuple[tuple[str, Any], ...]) -> RoundStudy:
    prior_day = _date(str(truth["study_date"]))
    day = add_months(prior_day, months)
    identity = next_identity(rng, person.identity, person.site, i, day, canary=canary,
                             cohort_round=cohort_round)
    reposition = draw_reposition(rng, _apex(person))
    changed, other = rng.uniform() < protocol_share, rng.uniform() < 0.5
    vendor = person.vendor
    if changed and other:
        vendor = (vendor + 1 + int(rng.integers(len(VENDORS) - 1))) % len(VENDORS)
    nodules = truth["nodules"]
    assert isinstance(nodules, list)
    fates = draw_fates(rng, nodules)
    new = draw_new(rng, person.next_number)
    study_uid, frame_uid, uid_root = _uids(seed, key, months, i)
    visit = Visit(person, reposition, tuple(fates), tuple(new), bool(changed),
                  int(rng.integers(2**31)), overrides)
    plan = StudyPlan(
        index=i, seed=person.seed, profile=FAMILY, site=person.site, identity=identity,
        vendor=vendor, syntax=pick_syntax(rng, None), defect=None, study_uid=study_uid,
        frame_uid=frame_uid, uid_root=uid_root, table_z=person.table_z, kvp=person.kvp,
        tube_ma=float(rng.uniform(15.0, 60.0)),
        patient_position=person.patient_position, detail_seed=int(rng.integers(2**31)),
        round=int(str(truth["round"])) + 1, person=person.key)
    link = PriorLink(str(truth["study_uid"]), str(truth["study_date"]), (day - prior_day).days,
                pixels)
    return RoundStudy(plan, visit, link, True, vendor != person.vendor, overrides)


def _newcomer(i: int, site: Site, day: dt.date, rng: np.random.Generator, *, seed: int,
              key: str, months: int, cohort_round: int, canary: bool, missing: bool,
              overrides: tuple[tuple[str, Any], ...]) -> RoundStudy:
    study_uid, frame_uid, uid_root = _uids(seed, key, months, i)
    plan = StudyPlan(
        index=i, seed=int(np.random.SeedSequence([seed, months, int(key, 16), i, 0x7A])
                          .generate_state(1)[0]),
        profile=FAMILY, site=site,
        identity=make_identity(rng, site, i, canary=canary, cohort_round=cohort_round,
                               study_day=day),
        vendor=int(rng.integers(len(VENDORS))), syntax=pick_syntax(rng, None), defect=None,
        study_uid=study_uid, frame_uid=frame_uid, uid_root=uid_root,
        table_z=float(-rng.uniform(100.0, 450.0)),
        kvp=float(rng.choice([100.0, 110.0, 120.0])), tube_ma=float(rng.uniform(15.0, 60.0)),
        patient_position=str(rng.choice(["FFS", "HFS"], p=[0.3, 0.7])),
        detail_seed=int(rng.integers(2**31)), round=cohort_round if missing else 1,
        person=f"{i}r{cohort_round}")
    return RoundStudy(plan, None, None, missing, overrides=overrides)


def plan_varied_round(prior: PriorRound, *, seed: int, months: int, canary: bool = False,
                      new_share: float = 0.1, missing_share: float = 0.05,
                      unavailable_share: float = 0.1, protocol_share: float = 0.35
                      ) -> tuple[RoundStudy, ...]:
    """One study per person of the prior (in their order), then the new entrants, then the
    people whose prior is missing; deterministic for the prior's contents, `seed`, `months`."""
    key = prior.digest[:16]
    rng = np.random.default_rng(np.random.SeedSequence([seed, months, int(key, 16), 0x7A2]))
    n = len(prior.truths)
    n_new, n_missing = round(new_share * n), round(missing_share * n)
    lost = set(rng.permutation(n)[:round(unavailable_share * n)].tolist())
    cohort_round = prior.round + 1
    overrides = tuple(sorted((prior.acquisition or {}).items()))

    def study_rng(i: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, months, int(key, 16),
                                                             0x7A3, i]))

    studies = [_revisit(i, person, truth, study_rng(i), seed=seed, key=key, months=months,
                        cohort_round=cohort_round, pixels=i not in lost, canary=canary,
                        protocol_share=protocol_share, overrides=overrides)
               for i, (person, truth) in enumerate(zip(prior.people, prior.truths, strict=True))]
    sites: dict[str, list[Site]] = {}
    for p in prior.people:
        if p.site not in sites.setdefault(p.site.region, []):
            sites[p.site.region].append(p.site)
    regions = sorted(sites)
    days = sorted(s.plan.identity.StudyDate for s in studies)
    first, last = _date(days[0]), _date(days[-1])
    for i in range(n, n + n_new + n_missing):
        srng = study_rng(i)
        region = regions[i % len(regions)]
        site = sites[region][int(srng.integers(len(sites[region])))]
        day = first + dt.timedelta(days=int(srng.integers((last - first).days + 1)))
        studies.append(_newcomer(i, site, day, srng, seed=seed, key=key, months=months,
                                 cohort_round=cohort_round, canary=canary,
                                 missing=i >= n + n_new, overrides=overrides))
    return tuple(studies)
