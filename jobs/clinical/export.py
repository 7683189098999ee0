"""`export_sr`: one DICOM SR (TID 1500) per screened study of a campaign, written to a
folder for the PACS, re-identified from the sources with the pseudonym key.

Like the recall list (jobs.recall), this is the authority's alone: the key must already exist
and be the campaign's, each study's pseudonym is recomputed from the sources to find the
person's real study, and the export is audited (counts only) before any file is written.
Files are named `<n>.dcm` (n: the study's rank among the campaign's screened results by
pseudonym), owner-only. The same study and model version under the same key give the same
SOP Instance UID, so a re-export replaces the reports it wrote before.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.clinical.sr import SrIdentity, build_sr, sr_uid
from jobs.clinical.tracking import nodule_tracking_uids
from jobs.ingest.selection import Selected, select_series
from jobs.reidentify import audited_files, match_studies, reidentification_key, spec_regions
from kernel.records import Outcome

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["SrExport", "SrReports", "build_reports", "export_sr", "sr_bytes"]

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


@dataclass(frozen=True)
class SrReports:
    """The campaign's reports, built and numbered; `not_found` and `unselectable` counted."""

    reports: list[tuple[int, Dataset]]  # (n: the study's rank by pseudonym, the SR)
    not_found: int
    unselectable: int


def build_reports(spec: CampaignSpec, store: ResultsStore, env: Mapping[str, str], *,
                  action: str) -> SrReports:
    """One SR per screened study of campaign `spec`, re-identified from the sources with the
    key (BadInput for an unknown campaign, a missing key or another key than the
    campaign's). A study whose series the sources no longer select the same way is counted
    (`unselectable`), never reported against the wrong images."""
    pseudonymizer = reidentification_key(spec, store, action)
    fingerprint = pseudonymizer.fingerprint()
    due = {r.study_pid: r for r in store.results(spec.id) if r.outcome is Outcome.SCREENED}
    numbers = {pid: n for n, pid in enumerate(sorted(due), 1)}
    tracking = nodule_tracking_uids(store, spec.id, due, fingerprint)
    reports: list[tuple[int, Dataset]] = []
    unselectable = 0
    for result, study in match_studies(due, spec_regions(spec, env), pseudonymizer):
        selected = select_series(study)
        if not isinstance(selected, Selected):
            unselectable += 1
            continue
        source = selected.series.source
        _, first = next(iter(source.read_instances(selected.slices[:1])))
        parts = (result.study_pid, result.model_name, result.model_version, fingerprint)
        identity = SrIdentity(sr_uid(*parts, "instance"), sr_uid(*parts, "series"))
        reports.append((numbers[result.study_pid],
                        build_sr(result, first, selected.slices, identity=identity,
                                 key_fingerprint=fingerprint,
                                 tracking_uids=tracking[result.study_pid])))
    reports.sort(key=lambda r: r[0])
    return SrReports(reports, len(due) - len(reports) - unselectable, unselectable)


def sr_bytes(report: Dataset) -> bytes:
    """The report as a DICOM Part 10 file."""
    buf = io.BytesIO()
    report.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def export_sr(spec: CampaignSpec, store: ResultsStore, *, out: Path, operator: str,
              env: Mapping[str, str]) -> SrExport:
    """Write one SR per screened study of campaign `spec` into folder `out` and audit it
    (see `build_reports` for what is refused and counted)."""
    built = build_reports(spec, store, env, action="export")
    files = [(out / f"{n}.dcm", sr_bytes(report)) for n, report in built.reports]
    digest, audit_path = audited_files(
        spec, store, kind="sr_export", what="export", files=files,
        detail={"operator": operator, "count": len(files), "not_found": built.not_found,
                "unselectable": built.unselectable, "format": "sr"})
    log.info("SR export: campaign %s, %d reports, %d not found in the sources, "
             "%d no longer selectable", spec.id, len(files), built.not_found,
             built.unselectable)
    return SrExport(out, len(files), built.not_found, built.unselectable, digest, audit_path)
