"""`lungscreen scan`: discover and select over sources, and account for every file and study.

Each study ends `selected` (its series pseudonym, slice count, spacing) or `quarantined` (a
stable reason code); each file ends accepted or rejected with a `FileReason`. Output holds
no PHI: studies and series appear as keyed pseudonyms, sites as derived site codes, and
rejected files in machine output as a keyed hash of their path (`file_pid`): real archives
put names and ids in folder names. The relative path itself (`FileLine.path`) is kept for
the people table only, which an operator reads on the machine that holds the data; it is
empty for DICOMweb sources, whose locators are UIDs (shown by their `file_pid` instead).

JSON lines (`--json`), one object each, in this order:
- {"type": "study", "study", "region", "site", "outcome": "selected"|"quarantined",
  "series" (pseudonym or null), "reason" (kernel.reasons.Reason or null), "detail",
  "slices", "spacing" ([z, y, x] mm or null), "series_considered"} per study;
- {"type": "file", "source", "file" (keyed hash of the path), "reason" (FileReason),
  "detail"} per rejected file;
- {"type": "summary", "files", "files_accepted", "files_rejected" {reason: n}, "studies",
  "studies_selected", "studies_quarantined" {reason: n}} last.

Region: `region=` when given; else, with `region_from_path`, the first folder under a folder
source's root that holds the study's first file (a tree laid out REGION/...); else the
source's label (the folder's own name, or the archive's host). A study split across sources
takes the region of its first series.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from jobs.ingest.discovery import DiscoveredStudy, FileOutcome, discover
from jobs.ingest.selection import Policy, Quarantined, Selected, select_series
from jobs.ingest.sources.base import Source
from jobs.ingest.sources.folder import FolderSource
from kernel.reasons import FileReason, Reason

__all__ = [
    "FileLine",
    "Pseudonyms",
    "ScanResult",
    "ScanSummary",
    "StudyLine",
    "scan",
    "study_line",
]

log = logging.getLogger("lungscreen.scan")


class Pseudonyms(Protocol):
    """The keyed pseudonyms scan needs (jobs.ingest.privacy.Pseudonymizer satisfies it)."""

    def study(self, patient_id: str, study_uid: str) -> str: ...
    def series(self, study_uid: str, series_uid: str) -> str: ...
    def site(self, region: str, institution: str) -> str: ...


@dataclass(frozen=True)
class StudyLine:
    """One study's decision, PHI-free."""

    study: str
    region: str
    site: str
    outcome: str  # "selected" | "quarantined"
    series: str | None
    reason: Reason | None
    detail: str
    slices: int
    spacing: tuple[float, float, float] | None
    series_considered: int

    def to_json(self) -> dict[str, object]:
        return {
            "type": "study",
            "study": self.study,
            "region": self.region,
            "site": self.site,
            "outcome": self.outcome,
            "series": self.series,
            "reason": None if self.reason is None else str(self.reason),
            "detail": self.detail,
            "slices": self.slices,
            "spacing": None if self.spacing is None else [round(v, 4) for v in self.spacing],
            "series_considered": self.series_considered,
        }


@dataclass(frozen=True)
class FileLine:
    """One rejected file. `path` (relative to a folder source; "" for an archive) is for
    people only."""

    source: str
    path: str = field(repr=False)
    file_pid: str
    reason: FileReason
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "type": "file",
            "source": self.source,
            "file": self.file_pid,
            "reason": str(self.reason),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ScanSummary:
    """Counts: every file is accepted or rejected, every study selected or quarantined."""

    files: int
    files_accepted: int
    files_rejected: dict[str, int]
    studies: int
    studies_selected: int
    studies_quarantined: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"type": "summary", **self.__dict__}


@dataclass(frozen=True)
class ScanResult:
    """PHI-free lines for output, and the decisions themselves (with identifiers, in memory)
    for callers that go on to load volumes."""

    studies: tuple[StudyLine, ...]
    files: tuple[FileLine, ...]
    summary: ScanSummary
    decisions: tuple[Selected | Quarantined, ...] = field(repr=False)


def scan(
    sources: Iterable[Source],
    pseudonyms: Pseudonyms,
    *,
    region: str | None = None,
    region_from_path: bool = False,
    policy: Policy | None = None,
) -> ScanResult:
    """Discover every study in `sources`, select a series for each, account for all files."""
    sources = list(sources)
    files: list[FileLine] = []
    accepted = 0

    def on_file(outcome: FileOutcome) -> None:
        nonlocal accepted
        if outcome.reason is None:
            accepted += 1
            return
        label = outcome.source.label
        pid = pseudonyms.series(f"file:{label}", outcome.locator)
        path = outcome.locator if isinstance(outcome.source, FolderSource) else ""
        files.append(FileLine(label, path, pid, outcome.reason, outcome.detail))

    decisions: list[Selected | Quarantined] = []
    lines: list[StudyLine] = []
    for study in discover(sources, on_file):
        decision = select_series(study, policy)
        decisions.append(decision)
        lines.append(study_line(decision, pseudonyms, region or _region(study, region_from_path)))
    rejected = Counter(str(f.reason) for f in files)
    quarantined = Counter(str(s.reason) for s in lines if s.outcome == "quarantined")
    summary = ScanSummary(
        files=accepted + len(files),
        files_accepted=accepted,
        files_rejected=dict(sorted(rejected.items())),
        studies=len(lines),
        studies_selected=sum(1 for s in lines if s.outcome == "selected"),
        studies_quarantined=dict(sorted(quarantined.items())),
    )
    log.info(
        "scanned %d source(s): %d files (%d rejected), %d studies (%d quarantined)",
        len(sources),
        summary.files,
        len(files),
        summary.studies,
        summary.studies - summary.studies_selected,
    )
    return ScanResult(tuple(lines), tuple(files), summary, tuple(decisions))


def _region(study: DiscoveredStudy, from_path: bool) -> str:
    if not study.series:
        return "unknown"
    source = study.series[0].source
    first = study.first_header
    if from_path and isinstance(source, FolderSource) and first and "/" in first.locator:
        return first.locator.split("/", 1)[0]
    return source.label


def study_line(
    decision: Selected | Quarantined, pseudonyms: Pseudonyms, region: str | None = None
) -> StudyLine:
    """The PHI-free line for one study's decision."""
    study = decision.study
    first = study.first_header
    patient = (first.patient_id if first else "").strip()
    region_name = region or (study.series[0].source.label if study.series else "unknown")
    institution = first.institution if first else None
    # a pseudonymous code per institution, to check the data before declaring sites; a
    # campaign's records carry the declared site instead (RegionSpec.sites)
    site = pseudonyms.site(region_name, institution or "")
    study_pid = pseudonyms.study(patient, study.study_uid)
    considered = len(study.series)
    if isinstance(decision, Selected):
        return StudyLine(
            study=study_pid,
            region=region_name,
            site=site,
            series_considered=considered,
            outcome="selected",
            series=pseudonyms.series(study.study_uid, decision.series.series_uid),
            reason=None,
            detail=f"{len(decision.decisions)} series considered",
            slices=decision.slice_count,
            spacing=decision.spacing,
        )
    return StudyLine(
        study=study_pid,
        region=region_name,
        site=site,
        series_considered=considered,
        outcome="quarantined",
        series=None,
        reason=decision.reason,
        detail=decision.detail,
        slices=0,
        spacing=None,
    )
