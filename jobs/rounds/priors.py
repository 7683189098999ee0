"""Finding each study's prior screen in the campaigns a spec names as `priors`.

A prior campaign must be in the same store and have run under the same pseudonym key (its
recorded fingerprint): under another key every pseudonym differs and no person would be
found, so that is refused with a clear error rather than read as "nobody has a prior". A
study's prior is the person's latest screened result in those campaigns whose (shifted) exam
day is before the study's own; results without a reading (stores from before rounds) are
priors without positions (`PriorScreen.comparable` False).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from jobs.store import ResultsStore
from kernel.errors import BadInput
from kernel.followup import PriorNodule
from kernel.records import Outcome, StudyRecord, StudyResult
from kernel.rounds import PriorFinding, PriorScreen

__all__ = ["check_priors", "find_priors"]


def check_priors(store: ResultsStore, campaign_id: str, priors: Sequence[str],
                 fingerprint: str) -> None:
    """BadInput unless every campaign in `priors` is in `store`, is not `campaign_id` and
    ran under the key whose fingerprint is `fingerprint`."""
    for prior_id in priors:
        if prior_id == campaign_id:
            raise BadInput(f"priors: {prior_id!r} is this campaign; expected earlier campaigns")
        found = store.campaign(prior_id)
        if found is None:
            raise BadInput(f"priors: campaign {prior_id!r} is not in this store; expected the "
                           "id of an earlier campaign run into the same store "
                           "(lungscreen status lists them)")
        if found.key_fingerprint is not None and found.key_fingerprint != fingerprint:
            raise BadInput(
                f"priors: campaign {prior_id!r} ran under another pseudonym key (fingerprint "
                f"{found.key_fingerprint[:8]}..., this campaign's {fingerprint[:8]}...); its "
                "pseudonyms name other people. Run this campaign with that campaign's "
                "privacy.key_file, or leave it out of priors")


def _screen(campaign_id: str, result: StudyResult) -> PriorScreen:
    reading = result.reading
    if reading is None or len(reading.nodules) != len(result.nodules) \
            or any(n.relative is None for n in reading.nodules):
        return PriorScreen(campaign_id, result.study_pid, result.exam_day, result.category,
                           comparable=False)
    findings = []
    for nodule, read in zip(result.nodules, reading.nodules, strict=True):
        assert read.relative is not None
        findings.append(PriorFinding(read.relative, PriorNodule(
            nodule.diameter_mm, nodule.solid_diameter_mm, nodule.type,
            read.category,
            read.first_diameter_mm, read.days_since_first), (nodule.z, nodule.y, nodule.x)))
    return PriorScreen(campaign_id, result.study_pid, result.exam_day, result.category,
                       tuple(findings))


def _before(candidate: PriorScreen, exam_day: str) -> bool:
    return not candidate.exam_day or not exam_day or candidate.exam_day < exam_day


def find_priors(store: ResultsStore, priors: Sequence[str], records: Iterable[StudyRecord]
                ) -> dict[str, PriorScreen]:
    """Study pseudonym -> its prior screen, for the studies of `records` that have one."""
    records = list(records)
    if not priors or not records:
        return {}
    by_person: dict[str, list[PriorScreen]] = {}
    for campaign_id, result in store.results_of_persons(priors, (r.patient_pid for r in records)):
        if result.outcome is Outcome.SCREENED and result.category is not None:
            by_person.setdefault(result.patient_pid, []).append(_screen(campaign_id, result))
    out: dict[str, PriorScreen] = {}
    for record in records:
        earlier = [p for p in by_person.get(record.patient_pid, ())
                   if _before(p, record.exam_day)]
        if earlier:
            out[record.study_pid] = max(earlier, key=lambda p: (p.exam_day, p.campaign_id))
    return out
