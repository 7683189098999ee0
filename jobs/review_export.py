"""The reading worklist as the readers get it: who each task is, re-derived from the sources
with the pseudonym key, so a reader can open the person's study in the PACS.

`lungscreen review` lists tasks by study pseudonym (no PHI). A reader reads in the PACS, by
accession number or patient: `export_worklist` matches each task's study back to the
sources exactly as the recall list does (jobs.reidentify: the campaign's key, audited before
anything is written, owner-only CSV) and writes one row per task: the identity columns, then
the task (its pseudonym, which `review --confirm` takes), why it is a task, the AI category,
the AI's nodules numbered as `--nodule` takes them, and the decision so far.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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

if TYPE_CHECKING:
    from jobs.review import WorklistView
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["WorklistEntry", "WorklistExport", "export_worklist"]

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class WorklistEntry(Identified):
    """One reading task for a reader: who (`Identified`), then the task. Holds PHI: only the
    worklist CSV may carry it."""

    task: str  # the study pseudonym, as `lungscreen review --confirm` takes it
    reason: str
    ai_category: str
    nodules: str
    decision: str  # "" while undecided, else e.g. "change -> 2 by dr-lee"

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"WorklistEntry(<task {self.task[:8]}, identifiers hidden>)"


@dataclass(frozen=True)
class WorklistExport:
    """What an export did (no PHI)."""

    path: Path
    count: int
    not_found: int
    sha256: str
    audit_log: Path


def export_worklist(spec: CampaignSpec, store: ResultsStore, view: WorklistView, *,
                    out: Path, operator: str, env: Mapping[str, str],
                    pending: bool = False) -> WorklistExport:
    """Write `view`'s tasks (only the undecided ones with `pending`), re-identified, to the
    CSV `out`, most suspicious first, and audit it (`worklist_export`, counts only). BadInput
    for a missing key or another key than the campaign's."""
    pseudonymizer = reidentification_key(spec, store, "review")
    tasks = {v.task.study_pid: v for v in view.tasks
             if v.result is not None and not (pending and v.decision is not None)}
    due = {pid: v.result for pid, v in tasks.items() if v.result is not None}
    entries = []
    for result, ds in match_sources(due, spec_regions(spec, env), pseudonymizer):
        v = tasks[result.study_pid]
        d = v.decision
        entries.append(WorklistEntry(
            **identity(ds, result), task=v.task.study_pid, reason=v.task.reason.value,
            ai_category=v.task.ai_category.value, nodules=v.nodules_text(),
            decision="" if d is None else f"{d.action.value} -> {d.category.value} by "
                                          f"{d.reader}"))
    entries.sort(key=lambda e: (-tasks[e.task].task.ai_category.rank, e.region, e.site,
                                e.task))
    count, data = render_csv(WorklistEntry, entries)
    not_found = len(due) - count
    digest, audit_path = audited_export(
        spec, store, kind="worklist_export", what="review --out", data=data, out=out,
        detail={"operator": operator, "count": count, "not_found": not_found,
                "pending_only": int(pending)})
    log.info("worklist export: campaign %s, %d tasks, %d not found in the sources",
             spec.id, count, not_found)
    return WorklistExport(out, count, not_found, digest, audit_path)

