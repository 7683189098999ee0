"""`export_sr`: one DICOM SR (TID 1500) per screened study of a campaign, written to a
folder for the PACS, re-identified from the sources with the pseudonym key.

Like the recall list (jobs.recall), this is the authority's alone: the key must already exist
and be the campaign's, each study's pseudonym is recomputed from the sources to find the
person's real study, and the export is audited (counts only) before any file is written.
Files are named `<n>.dcm` (n: the study's rank among the campaign's screened results by
pseudonym), owner-only. The same study and model version under the same key give the same
SOP Instance UID, so a re-export replaces the reports it wrote before. A study a reader
decided (jobs.review) is reported VERIFIED on its confirmed result, under a SOP Instance
UID of its own per decision.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.clinical.sr import ReaderVerification, SrIdentity, build_sr, sr_uid
from jobs.ingest.selection import Selected, select_series
from jobs.reidentify import audited_files, match_studies, reidentification_key, spec_regions
from kernel.records import Outcome

if TYPE_CHECKING:
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["SrExport", "export_sr"]

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class SrExport:
    """What an export did (no PHI): where, how many, and the files' digest."""

    folder: Path
    count: int
    not_found: int
    unselectable: int
    sha256: str
    audit_log: Path


def export_sr(spec: CampaignSpec, store: ResultsStore, *, out: Path, operator: str,
              env: Mapping[str, str]) -> SrExport:
    """Write one SR per screened study of campaign `spec` into folder `out` and audit it.

    BadInput for an unknown campaign, a missing key or another key than the campaign's.
    A study whose series the sources no longer select the same way is counted
    (`unselectable`), never reported against the wrong images."""
    pseudonymizer = reidentification_key(spec, store, "export")
    fingerprint = pseudonymizer.fingerprint()
    due = {r.study_pid: r for r in store.results(spec.id) if r.outcome is Outcome.SCREENED}
    numbers = {pid: n for n, pid in enumerate(sorted(due), 1)}
    confirmed = store.confirmed(spec.id)
    files: list[tuple[Path, bytes]] = []
    unselectable = 0
    for result, study in match_studies(due, spec_regions(spec, env), pseudonymizer):
        selected = select_series(study)
        if not isinstance(selected, Selected):
            unselectable += 1
            continue
        source = selected.series.source
        _, first = next(iter(source.read_instances(selected.slices[:1])))
        parts = (result.study_pid, result.model_name, result.model_version, fingerprint)
        decision = confirmed.get(result.study_pid)
        verified = () if decision is None else (f"decision-{decision.decision_id}",)
        identity = SrIdentity(sr_uid(*parts, "instance", *verified), sr_uid(*parts, "series"))
        verification = None if decision is None else ReaderVerification(
            decision.reader, decision.decided_at, decision.category, decision.rejected)
        report = build_sr(result, first, selected.slices, identity=identity,
                          key_fingerprint=fingerprint, verification=verification)
        buf = io.BytesIO()
        report.save_as(buf, enforce_file_format=True)
        files.append((out / f"{numbers[result.study_pid]}.dcm", buf.getvalue()))
    files.sort()
    not_found = len(due) - len(files) - unselectable
    digest, audit_path = audited_files(
        spec, store, kind="sr_export", what="export", files=files,
        detail={"operator": operator, "count": len(files), "not_found": not_found,
                "unselectable": unselectable, "format": "sr"})
    log.info("SR export: campaign %s, %d reports, %d not found in the sources, "
             "%d no longer selectable", spec.id, len(files), not_found, unselectable)
    return SrExport(out, len(files), not_found, unselectable, digest, audit_path)
