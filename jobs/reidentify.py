"""Re-identification, shared by the recall list (jobs.recall) and the technical recall list
(jobs.technical_recall): the campaign's key (read, never created, its fingerprint checked),
the studies matched back to people in the sources, and the audited, owner-only CSV.

This is the one place identifiers are put together with results; they go only to the CSV
file the authority names (owner-only, written atomically), never to logs, stdout or the
store. Every export first checks the audit trail (jobs.audit_trail.guard_export: refused, nothing
written, when it is broken), then appends an event to the store's keyed chain and a line
carrying that event's seq and MAC to the data folder's `audit.log` (JSON lines, owner-only,
no PHI).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.audit_trail import AUDIT_LOG, TrailBroken, append_audit, guard_export
from jobs.ingest.discovery import DiscoveredStudy, discover
from jobs.ingest.privacy import Pseudonymizer, StudyFields, minimise
from jobs.ingest.sources.factory import region_sources
from jobs.spec.files import write_private
from kernel.errors import BadInput, LungscreenError, PermanentError
from kernel.records import StudyResult

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from jobs.ingest.privacy import Pseudonymizer
    from jobs.ingest.sources.base import Source
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["Identified", "audit_event", "audit_first", "audited_export", "audited_files",
           "csv_cell", "identity",
           "match_sources", "match_studies", "reidentification_key", "render_csv",
           "spec_regions"]


def reidentification_key(spec: CampaignSpec, store: ResultsStore, action: str
                         ) -> Pseudonymizer:
    """The pseudonymizer of campaign `spec` under the key it ran with. BadInput for an
    unknown campaign, a missing key (never created here: a new key would match nobody) or
    another key than the campaign's (jobs.store.keycheck)."""
    from jobs.run.campaignkey import campaign_key  # jobs.run's face loads the driver

    campaign = store.campaign(spec.id)
    if campaign is None:
        raise BadInput(f"unknown campaign {spec.id!r} in the store; run it first")
    return Pseudonymizer(campaign_key(Path(spec.key_path), campaign, action))


def spec_regions(spec: CampaignSpec, env: Mapping[str, str]
                 ) -> Iterator[tuple[str, Sequence[Source]]]:
    """(region, its sources) for every region of `spec`."""
    return ((r.name, region_sources(r, env)) for r in spec.regions)


def match_studies(due: Mapping[str, StudyResult],
                  regions: Iterable[tuple[str, Sequence[Source]]],
                  pseudonymizer: Pseudonymizer) -> Iterator[tuple[StudyResult, DiscoveredStudy]]:
    """Scan each region's sources, recompute each study's pseudonym exactly as intake did
    (jobs.ingest.privacy.minimise), and yield (result, the study as discovered) for every
    study in `due`, once."""
    found: set[str] = set()
    for region, sources in regions:
        for study in discover(sources):
            header = study.first_header
            if header is None:
                continue
            fields_ = StudyFields(patient_id=header.patient_id, study_uid=study.study_uid,
                                  institution=header.institution)
            pid = minimise(fields_, region=region, pseudonymizer=pseudonymizer).study_pid
            result = due.get(pid)
            if result is None or pid in found:
                continue
            found.add(pid)
            yield result, study


def match_sources(due: Mapping[str, StudyResult],
                  regions: Iterable[tuple[str, Sequence[Source]]],
                  pseudonymizer: Pseudonymizer) -> Iterator[tuple[StudyResult, Dataset]]:
    """`match_studies`, yielding (result, first image) for every study in `due`, once."""
    for result, study in match_studies(due, regions, pseudonymizer):
        first = next(s for s in study.series if s.headers)
        _, ds = next(iter(first.source.read_instances([first.headers[0]])))
        yield result, ds


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class Identified:
    """The identity columns every re-identified list starts with, in its CSV's order (each
    list's entry adds its own). Holds PHI: only the list's CSV may carry it."""

    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    institution: str
    region: str
    site: str

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"{type(self).__name__}(<identifiers hidden>)"


def identity(ds: Dataset, result: StudyResult) -> dict[str, str]:
    """The values of the `Identified` columns for a study (PHI: for its CSV only)."""
    return {"patient_id": _text(ds, "PatientID"), "patient_name": _text(ds, "PatientName"),
            "study_date": _text(ds, "StudyDate"),
            "accession_number": _text(ds, "AccessionNumber"),
            "institution": _text(ds, "InstitutionName"), "region": result.region,
            "site": result.site}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula (`=`, `+`, `-`,
    `@`, tab, carriage return; OWASP CSV injection) gets a leading apostrophe."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(row_type: type, rows: Sequence[Any]) -> tuple[int, bytes]:
    """`rows` (dataclasses of `row_type`, already in order) as CSV, a column per field,
    cells escaped; (rows, bytes)."""
    names = [f.name for f in fields(row_type)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_cell(getattr(row, n)) for n in names])
    return len(rows), buf.getvalue().encode("utf-8")


def audit_event(store: ResultsStore, audit_path: Path, campaign_id: str, kind: str,
                detail: dict[str, str | int]) -> None:
    """The store's chained event first, then its mirror line in the file log."""
    head = store.audit(campaign_id, kind, **detail)
    append_audit(audit_path, {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                              "event": kind, "campaign": campaign_id, **detail,
                              "seq": head.seq, "mac": head.mac})


def audit_first(spec: CampaignSpec, store: ResultsStore, kind: str, what: str,
                 detail: dict[str, str | int]) -> Path:
    """Check the trail and audit `kind` before anything is written; the file log's path.
    Fail closed: a broken trail or a failed audit write exports nothing."""
    audit_path = Path(spec.data_dir) / AUDIT_LOG
    try:
        guard_export(store, audit_path, spec.id)
        audit_event(store, audit_path, spec.id, kind, detail)
    except TrailBroken:
        raise
    except (OSError, LungscreenError) as exc:
        raise PermanentError(
            f"{what} for campaign {spec.id}: the audit log could not be written "
            f"({type(exc).__name__}); nothing was exported. Fix {audit_path.parent} or the "
            f"store, then run {what} again") from None
    return audit_path


def _write_audited(spec: CampaignSpec, store: ResultsStore, audit_path: Path, kind: str,
                   what: str, detail: dict[str, str | int], out: Path, data: bytes, *,
                   prefix: str, folder_mode: int, outcome: str) -> None:
    """Write one audited file; a failed write is audited as `<kind>_failed` and raised
    with `outcome` (what the failure leaves)."""
    try:
        write_private(out, data, prefix=prefix, folder_mode=folder_mode)
    except OSError as exc:
        audit_event(store, audit_path, spec.id, f"{kind}_failed",
                    {**detail, "error": type(exc).__name__})
        raise PermanentError(f"{what}: cannot write {out} ({exc.strerror}); the attempt "
                             f"is audited, {outcome}") from None


def audited_export(spec: CampaignSpec, store: ResultsStore, *, kind: str, what: str,
                   data: bytes, out: Path, detail: dict[str, str | int]) -> tuple[str, Path]:
    """Audit event `kind` (with `detail` and the file's sha256), then write `data` to `out`
    (owner-only, atomic); (sha256, the file log). Fail closed: the trail is checked and the
    export audited before any identity reaches a file; when the trail is broken or an audit
    write fails, nothing is written. A failed write is audited as `<kind>_failed`."""
    digest = hashlib.sha256(data).hexdigest()
    detail = {**detail, "output_sha256": digest}
    audit_path = audit_first(spec, store, kind, what, detail)
    _write_audited(spec, store, audit_path, kind, what, detail, out, data, prefix=".recall-",
                   folder_mode=0o777, outcome="nothing was exported")
    return digest, audit_path


def audited_files(spec: CampaignSpec, store: ResultsStore, *, kind: str, what: str,
                  files: Sequence[tuple[Path, bytes]], detail: dict[str, str | int]
                  ) -> tuple[str, Path]:
    """`audited_export` for several files: one audit event `kind` (with `detail` and one
    sha256 over the files' digests, in order) before any is written, then each written
    owner-only and atomically; (sha256, the file log). A failed write is audited as
    `<kind>_failed`."""
    digests = "".join(hashlib.sha256(data).hexdigest() for _, data in files)
    digest = hashlib.sha256(digests.encode()).hexdigest()
    detail = {**detail, "output_sha256": digest}
    audit_path = audit_first(spec, store, kind, what, detail)
    for out, data in files:
        _write_audited(spec, store, audit_path, kind, what, detail, out, data,
                       prefix=".export-", folder_mode=0o700,
                       outcome="the export is incomplete: run it again")
    return digest, audit_path
