"""The technical recall list: the people whose study needs a repeat scan or a manual read
(kernel.next_steps), re-derived from the sources with the key as the recall list is
(jobs.reidentify), audited as `technical_recall_export`.

One row per person: a person with a screened study the model could read (any category but
0) in the campaign needs no technical recall; of a person's several studies that need one,
a manual read comes first (the images exist, and no new dose), then the earliest pseudonym.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.reidentify import (
    Identified,
    audited_export,
    identity,
    match_sources,
    reidentification_key,
    render_csv,
    spec_regions,
)
from kernel.next_steps import NextStep, technical_recall
from kernel.records import StudyResult

if TYPE_CHECKING:
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["TechnicalEntry", "TechnicalExport", "due_for_technical_recall",
           "export_technical_recall", "render_technical_csv"]

log = logging.getLogger("jobs")

_ORDER = (NextStep.MANUAL_READ, NextStep.REPEAT_SCAN)


@dataclass(frozen=True)
class TechnicalEntry(Identified):
    """One person to re-scan or read by hand: who (`Identified`), then why. Holds PHI: only
    its CSV may carry it."""

    reason: str
    next_step: str

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"TechnicalEntry(<{self.next_step}, identifiers hidden>)"


@dataclass(frozen=True)
class TechnicalExport:
    """What an export did (no PHI): where, how many per next step, and the file's digest."""

    path: Path
    count: int
    not_found: int
    by_step: Mapping[str, int]
    sha256: str
    audit_log: Path


def due_for_technical_recall(results: Iterable[StudyResult],
                             again: Iterable[StudyResult]) -> dict[str, StudyResult]:
    """The study to act on per person, by study pseudonym: `results` and `again` are two
    reads of the same campaign's results (the second drops people screened after all)."""
    chosen: dict[str, tuple[tuple[int, str], StudyResult]] = {}
    for r in results:
        due = technical_recall(r)
        if due is None:
            continue
        rank = (_ORDER.index(due[1]), r.study_pid)
        if r.patient_pid not in chosen or rank < chosen[r.patient_pid][0]:
            chosen[r.patient_pid] = (rank, r)
    for r in again:
        if r.patient_pid in chosen and r.category is not None and technical_recall(r) is None:
            del chosen[r.patient_pid]
    return {r.study_pid: r for _, r in chosen.values()}


def render_technical_csv(entries: Iterable[TechnicalEntry]) -> tuple[int, bytes]:
    """The technical recall CSV, by next step (manual read, then repeat scan) and reason;
    (rows, bytes)."""
    rows = sorted(entries, key=lambda e: (e.next_step, e.reason, e.region, e.site,
                                          e.study_date, e.accession_number))
    return render_csv(TechnicalEntry, rows)


def export_technical_recall(spec: CampaignSpec, store: ResultsStore, *, out: Path,
                            operator: str, env: Mapping[str, str]) -> TechnicalExport:
    """Write the technical recall list of campaign `spec` to `out` and audit the export.
    BadInput as `jobs.recall.export_recall`: unknown campaign, missing or another key."""
    pseudonymizer = reidentification_key(spec, store, "technical recall")
    due = due_for_technical_recall(store.results(spec.id), store.results(spec.id))
    entries = []
    for result, ds in match_sources(due, spec_regions(spec, env), pseudonymizer):
        reason, step = technical_recall(result) or ("", NextStep.NOT_APPLICABLE)
        entries.append(TechnicalEntry(**identity(ds, result), reason=reason,
                                      next_step=step.value))
    by_step = {s.value: sum(e.next_step == s.value for e in entries) for s in _ORDER}
    count, data = render_technical_csv(entries)
    not_found = len(due) - count
    digest, audit_path = audited_export(
        spec, store, kind="technical_recall_export", what="technical recall", data=data,
        out=out, detail={"operator": operator, "count": count, "not_found": not_found,
                         **by_step})
    log.info("technical recall export: campaign %s, %d people, %d not found in the "
             "sources", spec.id, count, not_found)
    return TechnicalExport(out, count, not_found, by_step, digest, audit_path)
