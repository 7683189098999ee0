"""The recall list: who to call back, re-derived from the sources with the pseudonym key.

The results store holds pseudonyms only. For each screened study at or above a Lung-RADS
category, `export_recall` scans the campaign's sources again, recomputes each study's
pseudonym exactly as intake did (jobs.ingest.privacy.minimise), and for the matches reads the
identifiers from the study's first image. This is the one place identifiers are put
together with results; they go only to the CSV file the authority names (owner-only,
written atomically), never to logs, stdout or the store. Every export first checks the
audit trail (jobs.audit.guard_export: refused, nothing written, when it is broken), then
appends an event to the store's keyed chain and a line carrying that event's seq and MAC to
the data folder's `audit.log` (JSON lines, owner-only, no PHI).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.audit import AUDIT_LOG, TrailBroken, append_audit, guard_export, verify_audit_log
from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput, LungscreenError, PermanentError
from kernel.lungrads import Category, categorize_nodule
from kernel.records import Outcome, StudyResult

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from jobs.ingest.privacy import Pseudonymizer
    from jobs.ingest.sources.base import Source
    from jobs.spec.campaign import CampaignSpec
    from jobs.store import ResultsStore

__all__ = [
    "AUDIT_LOG",
    "RecallEntry",
    "RecallExport",
    "append_audit",
    "csv_cell",
    "due_for_recall",
    "export_recall",
    "find_in_sources",
    "nodule_summary",
    "render_recall_csv",
    "verify_audit_log",
    "write_recall_csv",
]

log = logging.getLogger("jobs")

_TYPE_NAMES = {NoduleType.SOLID: "solid", NoduleType.PART_SOLID: "part-solid",
               NoduleType.GROUND_GLASS: "ground-glass"}


@dataclass(frozen=True)
class RecallEntry:
    """One person to call back. Holds PHI: only the recall CSV may carry it."""

    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    institution: str
    region: str
    site: str
    category: str
    nodules: str

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"RecallEntry(<category {self.category}, identifiers hidden>)"


@dataclass(frozen=True)
class RecallExport:
    """What an export did (no PHI): where, how many, and the file's digest."""

    path: Path
    count: int
    not_found: int
    min_category: Category
    sha256: str
    audit_log: Path


def due_for_recall(results: Iterable[StudyResult], min_category: Category
                   ) -> dict[str, StudyResult]:
    """Screened results at or above `min_category`, by study pseudonym."""
    return {r.study_pid: r for r in results
            if r.outcome is Outcome.SCREENED and r.category is not None
            and r.category.rank >= min_category.rank}


def nodule_summary(nodules: Sequence[Nodule], limit: int = 3) -> str:
    """The most suspicious nodules, e.g. "solid 9.2 mm (4A); part-solid 12.0 mm, solid part
    6.1 mm (4A)"; sizes are mean diameters, rounded as Lung-RADS rounds them."""
    ranked = sorted(nodules, key=lambda n: (-categorize_nodule(n).rank, -n.diameter_mm))
    parts = []
    for n in ranked[:limit]:
        text = f"{_TYPE_NAMES[n.type]} {round(n.diameter_mm, 1):.1f} mm"
        if n.type is NoduleType.PART_SOLID:
            text += f", solid part {round(n.solid_diameter_mm, 1):.1f} mm"
        parts.append(f"{text} ({categorize_nodule(n).value})")
    if len(ranked) > limit:
        parts.append(f"+{len(ranked) - limit} more")
    return "; ".join(parts)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def find_in_sources(due: Mapping[str, StudyResult],
                    regions: Iterable[tuple[str, Sequence[Source]]],
                    pseudonymizer: Pseudonymizer) -> Iterator[RecallEntry]:
    """Scan each region's sources and yield an entry for every study in `due`, once."""
    from jobs.ingest.discovery import discover
    from jobs.ingest.privacy import StudyFields, minimise

    found: set[str] = set()
    for region, sources in regions:
        for study in discover(sources):
            first = next(((s.source, s.headers[0]) for s in study.series if s.headers), None)
            if first is None:
                continue
            source, header = first
            fields_ = StudyFields(patient_id=header.patient_id, study_uid=study.study_uid,
                                  institution=header.institution)
            pid = minimise(fields_, region=region, pseudonymizer=pseudonymizer).study_pid
            result = due.get(pid)
            if result is None or pid in found:
                continue
            found.add(pid)
            _, ds = next(iter(source.read_instances([header])))
            yield RecallEntry(
                patient_id=_text(ds, "PatientID"),
                patient_name=_text(ds, "PatientName"),
                study_date=_text(ds, "StudyDate"),
                accession_number=_text(ds, "AccessionNumber"),
                institution=_text(ds, "InstitutionName"),
                region=result.region,
                site=result.site,
                category=result.category.value if result.category else "",
                nodules=nodule_summary(result.nodules),
            )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".recall-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula (`=`, `+`, `-`,
    `@`, tab, carriage return; OWASP CSV injection) gets a leading apostrophe."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_recall_csv(entries: Iterable[RecallEntry]) -> tuple[int, bytes]:
    """The recall CSV, most suspicious first, cells escaped; (rows, bytes)."""
    rows = sorted(entries, key=lambda e: (-Category.parse(e.category).rank, e.region, e.site,
                                          e.study_date, e.accession_number))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.name for f in fields(RecallEntry)])
    for e in rows:
        writer.writerow([csv_cell(getattr(e, f.name)) for f in fields(RecallEntry)])
    return len(rows), buf.getvalue().encode("utf-8")


def write_recall_csv(entries: Iterable[RecallEntry], path: Path) -> tuple[int, str]:
    """Write the recall CSV (owner-only, atomic); (rows, sha256)."""
    count, data = render_recall_csv(entries)
    _write_private(path, data)
    return count, hashlib.sha256(data).hexdigest()


def _audit_both(store: ResultsStore, audit_path: Path, campaign_id: str, kind: str,
                detail: dict[str, str | int]) -> None:
    """The store's chained event first, then its mirror line in the file log."""
    head = store.audit(campaign_id, kind, **detail)
    append_audit(audit_path, {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                              "event": kind, "campaign": campaign_id, **detail,
                              "seq": head.seq, "mac": head.mac})


def export_recall(spec: CampaignSpec, store: ResultsStore, *, min_category: Category,
                  out: Path, operator: str, env: Mapping[str, str]) -> RecallExport:
    """Write the recall list of campaign `spec` to `out` and audit the export.

    The key must already exist (it is never created here: a new key would match nobody).
    BadInput for an unknown campaign or a missing key.
    """
    from jobs.ingest.privacy import Pseudonymizer, load_or_create_key
    from jobs.ingest.sources.factory import region_sources

    if store.campaign(spec.id) is None:
        raise BadInput(f"unknown campaign {spec.id!r} in the store; run it first")
    key_path = Path(spec.key_path)
    if not key_path.is_file():
        raise BadInput(f"no pseudonym key at {key_path}; recall needs the key the campaign "
                       "ran with (privacy.key_file)")
    pseudonymizer = Pseudonymizer(load_or_create_key(key_path))  # exists: only read
    due = due_for_recall(store.results(spec.id), min_category)
    regions = ((r.name, region_sources(r, env)) for r in spec.regions)
    count, data = render_recall_csv(find_in_sources(due, regions, pseudonymizer))
    digest = hashlib.sha256(data).hexdigest()
    not_found = len(due) - count
    audit_path = Path(spec.data_dir) / AUDIT_LOG
    detail: dict[str, str | int] = {
        "operator": operator, "count": count, "not_found": not_found,
        "min_category": min_category.value, "output_sha256": digest}
    # fail closed: the trail is checked, then the export audited, before any identity
    # reaches a file; when the trail is broken or an audit write fails, nothing is written
    try:
        guard_export(store, audit_path, spec.id)
        _audit_both(store, audit_path, spec.id, "recall_export", detail)
    except TrailBroken:
        raise
    except (OSError, LungscreenError) as exc:
        raise PermanentError(
            f"recall for campaign {spec.id}: the audit log could not be written "
            f"({type(exc).__name__}); nothing was exported. Fix {audit_path.parent} or the "
            "store, then run recall again") from None
    try:
        _write_private(out, data)
    except OSError as exc:
        _audit_both(store, audit_path, spec.id, "recall_export_failed",
                    {**detail, "error": type(exc).__name__})
        raise PermanentError(f"recall: cannot write {out} ({exc.strerror}); the attempt "
                             "is audited, nothing was exported") from None
    log.info("recall export: campaign %s, %d studies, %d not found in the sources",
             spec.id, count, not_found)
    return RecallExport(out, count, not_found, min_category, digest, audit_path)
