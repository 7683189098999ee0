"""Writing the next screening round of a varied cohort: DICOM, truth, people, cohort.json.

The layout and truth format are synth's follow-up's (synth.cohort.write_follow_up
documents the fields): per study prior {study_uid, study_date, interval_days,
pixels_available}, prior_expected, resolved and unseen [{nodule_id, prior_diameter_mm,
centre_lps_mm}], and per nodule prior_nodule_id, change (new|grown|stable|smaller, named
from the measured growth: over 0.3 mm either way), prior_diameter_mm,
prior_solid_diameter_mm and growth_mm (nulls for a new one). The family's `acquisition`
keeps its scan fields and adds the repositioning relative to the prior in synth's names
(shift_mm, rotation_deg, z_scale, pivot_lps_mm) with vendor_changed and
protocol_changed (all null without a prior). `people.jsonl` holds persons.Person records.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from synth.acquisition import Pose
from synth.cohort import (
    CohortSummary,
    check_follow_up_args,
    follow_up_canary,
    follow_up_meta,
    fresh_dicom,
    run_jobs,
    write_records,
)
from synth.followup import link_to_prior
from synth.priors import PEOPLE_FILE
from synth_varied.changes import Fate
from synth_varied.persons import Person
from synth_varied.prior import FAMILY, read_varied_prior
from synth_varied.revisit import render_visit
from synth_varied.round_plan import RoundStudy, plan_varied_round
from synth_varied.volume import make_varied
from synth_varied.writing import write_rendered

__all__ = ["write_varied_follow_up"]

_POSE_KEYS = ("shift_mm", "rotation_deg", "z_scale", "pivot_lps_mm", "vendor_changed",
              "protocol_changed")


def _gone(f: Fate) -> dict[str, Any]:
    return {"nodule_id": f.nodule_id, "prior_diameter_mm": f.prior_diameter_mm,
            "centre_lps_mm": list(f.prior_centre_lps_mm)}


def _link_nodules(nodules: list[dict[str, Any]], fates: dict[str, Fate]) -> None:
    for n in nodules:
        f = fates.get(n["nodule_id"])
        link_to_prior(n, None if f is None else
                      (f.nodule_id, f.prior_diameter_mm, f.prior_solid_diameter_mm))


def _write_one(job: tuple[RoundStudy, Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Render and write one study; its truth record and its people.jsonl record."""
    study, root = job
    plan, visit = study.plan, study.visit
    if visit is None:
        st = make_varied(plan.seed, **dict(study.overrides))
        truth = write_rendered(plan, root, st)
        person = Person(plan.person_key, plan.seed, plan.identity, plan.site, plan.table_z,
                        plan.vendor, plan.patient_position, plan.kvp, Pose.identity(), None,
                        len(st.nodules) + 1, None)
        _link_nodules(truth["nodules"], {})
        truth.update({"prior": None, "prior_expected": study.prior_expected, "resolved": [],
                      "unseen": []})
        truth["acquisition"].update(dict.fromkeys(_POSE_KEYS))
        return truth, person.to_json(plan.study_uid, plan.index)
    done = render_visit(visit)
    truth = write_rendered(plan, root, done.study)
    fates = {f.nodule_id: f for f in visit.fates}
    _link_nodules(truth["nodules"], fates)
    unseen = {f"{plan.person_key}-{k}" for k in done.unseen}
    link = study.link
    assert link is not None
    truth.update({
        "prior": {"study_uid": link.study_uid, "study_date": link.study_date,
                  "interval_days": link.interval_days,
                  "pixels_available": link.pixels_available},
        "prior_expected": True,
        "resolved": [_gone(f) for f in visit.fates if f.resolved],
        "unseen": [_gone(f) for f in visit.fates if f.nodule_id in unseen],
    })
    truth["acquisition"].update({**visit.reposition.to_json(),
                                 "vendor_changed": study.vendor_changed,
                                 "protocol_changed": visit.protocol_changed})
    after = dataclasses.replace(done.person, identity=plan.identity, vendor=plan.vendor)
    return truth, after.to_json(plan.study_uid, plan.index)


def write_varied_follow_up(out: Path, prior: Path, *, months: int, seed: int,
                           workers: int | None = None, canary: bool | None = None,
                           new_share: float = 0.1, missing_share: float = 0.05,
                           unavailable_share: float = 0.1,
                           protocol_share: float = 0.35) -> CohortSummary:
    """Write the next round of the varied cohort in `prior` into `out` (module doc; the
    layout is synth.cohort's plus people.jsonl). `canary` (default: as the prior) needs a
    canary prior. Nothing in `prior` changes. BadInput for a folder that is not such a
    cohort, or impossible arguments; the bytes do not depend on `workers`."""
    check_follow_up_args(months, workers)
    before = read_varied_prior(Path(prior))
    out = Path(out)
    canary = follow_up_canary(out, Path(prior), before.root, before.meta, canary)
    studies = plan_varied_round(before, seed=seed, months=months, canary=canary,
                                new_share=new_share, missing_share=missing_share,
                                unavailable_share=unavailable_share,
                                protocol_share=protocol_share)
    dicom = fresh_dicom(out)
    results = run_jobs(_write_one, [(s, dicom) for s in studies], workers)
    with (out / PEOPLE_FILE).open("w", encoding="utf-8") as fh:
        for _, record in results:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    truths = [t for t, _ in results]
    args: dict[str, Any] = {
        "family": FAMILY, "follow_up": True, "months": months, "seed": seed,
        "profile": FAMILY, "defects": False, "canary": canary, "new_share": new_share,
        "missing_share": missing_share, "unavailable_share": unavailable_share,
        "protocol_share": protocol_share}
    if before.acquisition:
        args["acquisition"] = before.acquisition
    extra = {"family": FAMILY,
             **follow_up_meta(before.meta, before.digest, before.round, months, truths)}
    return write_records(out, dicom, [s.plan for s in studies], truths, args, extra, canary)
