"""`export_sr` and `export_fhir`: one DICOM SR (TID 1500) per screened study of a campaign
for the PACS, or one FHIR R4 Bundle per study for the programme register, written to a
folder, re-identified from the sources with the pseudonym key. Both go through one loop
(`matched_studies`: match, select, the nodules' tracking UIDs across rounds) and one audited
write (`_write`); `match_campaign` yields the studies one at a time to the PACS sender
(jobs.clinical.stow).

Like the recall list (jobs.recall), this is the authority's alone: the key must already exist
and be the campaign's, each study's pseudonym is recomputed from the sources to find the
person's real study, and the export is audited (counts only) before any file is written.
Files are named `<n>.dcm` / `<n>.json` (n: the study's rank among the campaign's screened
results by pseudonym), owner-only. The same study and model version under the same key give
the same SOP Instance UID (SR) and the same bundle, byte for byte (FHIR), so a re-export
replaces what it wrote before. A study a reader decided (jobs.review) is reported
VERIFIED on its confirmed result (SR), under a SOP Instance UID of its own per decision.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from jobs.clinical.fhir import build_bundle, bundle_json, fhir_study
from jobs.clinical.sr import ReaderVerification, SrIdentity, build_sr, sr_uid
from jobs.clinical.tracking import nodule_tracking_uids
from jobs.ingest.selection import Selected, select_series
from jobs.reidentify import audited_files, match_studies, reidentification_key, spec_regions
from kernel.records import Outcome, StudyResult

if TYPE_CHECKING:
    from jobs.ingest.privacy import Pseudonymizer
    from jobs.ingest.sources.base import Source
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore
    from kernel.worklist import ReaderDecision

__all__ = ["ClinicalExport", "Matched", "Matching", "export_fhir", "export_sr", "match_campaign",
           "matched_studies", "sr_bytes", "sr_report"]

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class ClinicalExport:
    """What an export did (no PHI): where, how many, and the files' digest."""

    folder: Path
    count: int
    not_found: int
    unselectable: int
    sha256: str
    audit_log: Path


@dataclass(frozen=True)
class Matched:
    """A screened study matched back to its source: its result, its selected series and the
    series' first image as the source holds it (PHI), its number among the campaign's
    screened results, the key's fingerprint, one tracking UID per nodule."""

    number: int
    result: StudyResult
    selected: Selected
    first: Dataset
    fingerprint: str
    tracking: tuple[str, ...]
    decision: ReaderDecision | None = None  # a reader's confirmed result (jobs.review)


@dataclass(frozen=True)
class Matches:
    studies: list[Matched]  # by number
    not_found: int
    unselectable: int


@dataclass(frozen=True)
class _Format:
    name: str  # the audit event is `<name>_export`
    label: str
    suffix: str
    render: Callable[[Matched], bytes]


@dataclass
class Matching:
    """A campaign's screened studies with the key checked, to be matched back to the sources:
    `studies()` yields each one as it is found (one at a time, so a sender need not hold a
    campaign's reports); `not_found` and `unselectable` are final once it is exhausted."""

    due: dict[str, StudyResult]
    fingerprint: str
    _numbers: dict[str, int]
    _tracking: dict[str, tuple[str, ...]]
    _confirmed: Mapping[str, ReaderDecision]
    _regions: list[tuple[str, Sequence[Source]]]
    _pseudonymizer: Pseudonymizer
    found: int = 0
    unselectable: int = 0

    @property
    def not_found(self) -> int:
        return len(self.due) - self.found - self.unselectable

    def studies(self) -> Iterator[Matched]:
        """Each study found, with its series selected again; a study the sources no longer
        select the same way is counted (`unselectable`), never reported against the wrong
        images."""
        for result, study in match_studies(self.due, self._regions, self._pseudonymizer):
            selected = select_series(study)
            if not isinstance(selected, Selected):
                self.unselectable += 1
                continue
            source = selected.series.source
            _, first = next(iter(source.read_instances(selected.slices[:1])))
            self.found += 1
            pid = result.study_pid
            yield Matched(self._numbers[pid], result, selected, first, self.fingerprint,
                          self._tracking[pid], self._confirmed.get(pid))


def match_campaign(spec: CampaignSpec, store: ResultsStore, env: Mapping[str, str]
                   ) -> Matching:
    """The campaign's screened studies ready to be matched with its key. BadInput for an
    unknown campaign, a missing key or another key than the campaign's."""
    pseudonymizer = reidentification_key(spec, store, "export")
    fingerprint = pseudonymizer.fingerprint()
    due = {r.study_pid: r for r in store.results(spec.id) if r.outcome is Outcome.SCREENED}
    return Matching(due, fingerprint, {pid: n for n, pid in enumerate(sorted(due), 1)},
                    nodule_tracking_uids(store, spec.id, due, fingerprint),
                    store.confirmed(spec.id), list(spec_regions(spec, env)), pseudonymizer)


def matched_studies(spec: CampaignSpec, store: ResultsStore, env: Mapping[str, str]
                    ) -> Matches:
    """Every study of `match_campaign`, found and numbered (held together: a file export
    audits all its files' digests before writing any)."""
    matching = match_campaign(spec, store, env)
    found = sorted(matching.studies(), key=lambda m: m.number)
    return Matches(found, matching.not_found, matching.unselectable)


@dataclass(frozen=True)
class _Rendered:
    files: list[tuple[Path, bytes]]
    not_found: int
    unselectable: int


def _render(spec: CampaignSpec, store: ResultsStore, fmt: _Format, *, out: Path,
            env: Mapping[str, str]) -> _Rendered:
    """Each matched study's file (`out/<n><suffix>`), in memory."""
    matches = matched_studies(spec, store, env)
    files = [(out / f"{m.number}{fmt.suffix}", fmt.render(m)) for m in matches.studies]
    return _Rendered(files, matches.not_found, matches.unselectable)


def _write(spec: CampaignSpec, store: ResultsStore, fmt: _Format, done: _Rendered, *,
           out: Path, operator: str) -> ClinicalExport:
    """Audit the export (counts only), then write its files owner-only."""
    count = len(done.files)
    digest, audit_path = audited_files(
        spec, store, kind=f"{fmt.name}_export", what="export", files=done.files,
        detail={"operator": operator, "count": count, "not_found": done.not_found,
                "unselectable": done.unselectable, "format": fmt.name})
    log.info("%s export: campaign %s, %d reports, %d not found in the sources, "
             "%d no longer selectable", fmt.label, spec.id, count, done.not_found,
             done.unselectable)
    return ClinicalExport(out, count, done.not_found, done.unselectable, digest, audit_path)


def sr_report(m: Matched) -> Dataset:
    """The matched study's SR (its UIDs: the study, model version and key's, and the
    reader's decision that verified it, if one did)."""
    result, decision = m.result, m.decision
    parts = (result.study_pid, result.model_name, result.model_version, m.fingerprint)
    verified = () if decision is None else (f"decision-{decision.decision_id}",)
    identity = SrIdentity(sr_uid(*parts, "instance", *verified), sr_uid(*parts, "series"))
    return build_sr(result, m.first, m.selected.slices, identity=identity,
                    key_fingerprint=m.fingerprint, tracking_uids=m.tracking,
                    verification=_verification(decision))


def _verification(decision: ReaderDecision | None) -> ReaderVerification | None:
    return None if decision is None else ReaderVerification(
        decision.reader, decision.decided_at, decision.category, decision.rejected)


def sr_bytes(report: Dataset) -> bytes:
    """The report as a DICOM Part 10 file."""
    buf = io.BytesIO()
    report.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _sr_file(m: Matched) -> bytes:
    return sr_bytes(sr_report(m))


_SR = _Format("sr", "SR", ".dcm", _sr_file)


def export_sr(spec: CampaignSpec, store: ResultsStore, *, out: Path, operator: str,
              env: Mapping[str, str]) -> ClinicalExport:
    """Write one SR per screened study of campaign `spec` into folder `out` and audit it.

    BadInput for an unknown campaign, a missing key or another key than the campaign's.
    A study whose series the sources no longer select the same way is counted
    (`unselectable`), never reported against the wrong images."""
    done = _render(spec, store, _SR, out=out, env=env)
    return _write(spec, store, _SR, done, out=out, operator=operator)


def _fhir_file(m: Matched) -> bytes:
    study = fhir_study(m.first, m.selected.slices, m.result)
    return bundle_json(build_bundle(m.result, study, key_fingerprint=m.fingerprint,
                                    tracking_uids=m.tracking,
                                    verification=_verification(m.decision)))


_FHIR = _Format("fhir", "FHIR", ".json", _fhir_file)


def export_fhir(spec: CampaignSpec, store: ResultsStore, *, out: Path, operator: str,
                env: Mapping[str, str]) -> ClinicalExport:
    """Write one FHIR R4 transaction Bundle per screened study of campaign `spec` into folder
    `out` as `<n>.json` and audit it (`fhir_export`); as `export_sr` otherwise."""
    done = _render(spec, store, _FHIR, out=out, env=env)
    return _write(spec, store, _FHIR, done, out=out, operator=operator)
