"""Tracking UIDs that follow a nodule from round to round.

A nodule first seen in a screen gets a UID derived from that screen (study pseudonym, model
version, key fingerprint, its place in the result's list). A nodule matched to a prior one
(kernel.rounds.NoduleReading.prior_index) keeps the prior's UID, followed back through the
person's earlier screens in the same store under the same key, so a PACS or a reader sees one
finding across reports (DCM 112040, Tracking Unique Identifier).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from jobs.clinical.sr import first_seen_uid
from kernel.records import StudyResult

if TYPE_CHECKING:
    from jobs.store import ResultsStore

__all__ = ["first_seen_uid", "nodule_tracking_uids"]


def _earlier(store: ResultsStore, campaign_id: str, results: Mapping[str, StudyResult],
             key_fingerprint: str) -> dict[str, StudyResult]:
    """The earlier screens of the people of `results` read against a prior: study pid ->
    result, from every other campaign of the store run under the same key."""
    persons = {r.patient_pid for r in results.values()
               if r.reading is not None and r.reading.prior_study_pid}
    if not persons:
        return {}
    campaigns = [c.id for c in store.campaigns() if c.id != campaign_id
                 and c.key_fingerprint in (None, key_fingerprint)]
    return {r.study_pid: r for _, r in store.results_of_persons(campaigns, persons)}


def nodule_tracking_uids(store: ResultsStore, campaign_id: str,
                         results: Mapping[str, StudyResult], key_fingerprint: str
                         ) -> dict[str, tuple[str, ...]]:
    """Study pid (of `results`, campaign `campaign_id`'s) -> one tracking UID per nodule."""
    known = {**_earlier(store, campaign_id, results, key_fingerprint), **results}
    memo: dict[str, tuple[str, ...]] = {}

    def uids(result: StudyResult, seen: frozenset[str]) -> tuple[str, ...]:
        if result.study_pid in memo:
            return memo[result.study_pid]
        reading = result.reading
        prior = None
        if reading is not None and reading.prior_study_pid not in (None, *seen):
            prior = known.get(str(reading.prior_study_pid))
        prior_uids = uids(prior, seen | {result.study_pid}) if prior is not None else ()
        out = []
        for i in range(len(result.nodules)):
            read = reading.nodules[i] if reading is not None and i < len(reading.nodules) \
                else None
            at = read.prior_index if read is not None else None
            out.append(prior_uids[at] if at is not None and at < len(prior_uids)
                       else first_seen_uid(result, i, key_fingerprint))
        memo[result.study_pid] = tuple(out)
        return memo[result.study_pid]

    return {pid: uids(r, frozenset()) for pid, r in results.items()}
