"""Group slice headers into studies and series, whatever the folder layout.

A study is its StudyInstanceUID, a series its SeriesInstanceUID: a study or series split
across folders, or across sources, is one study or series (a series spread over sources
reads through a `MultiSource`). Only slim headers are kept; every
file's outcome is reported through `on_file` as it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from jobs.ingest.dicom.headers import FileRejection, SliceHeader
from jobs.ingest.sources.base import Source
from jobs.ingest.sources.multi import MultiSource
from kernel.reasons import FileReason

__all__ = ["DiscoveredSeries", "DiscoveredStudy", "FileOutcome", "discover"]


@dataclass(frozen=True)
class FileOutcome:
    """One file's fate: accepted (a usable image header) or rejected with a reason."""

    source: Source = field(repr=False)
    locator: str = field(repr=False)
    reason: FileReason | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class DiscoveredSeries:
    """The image headers of one series in one source, in discovery order.

    `unreadable` counts files of this series whose header was readable but whose pixel
    data is not (e.g. cut short).
    """

    source: Source = field(repr=False)
    series_uid: str = field(repr=False)
    headers: tuple[SliceHeader, ...]
    unreadable: int = 0

    @property
    def series_number(self) -> int | None:
        return self.headers[0].series_number if self.headers else None


@dataclass(frozen=True)
class DiscoveredStudy:
    """Every series of one study, plus the count of its files that carry no image."""

    study_uid: str = field(repr=False)
    series: tuple[DiscoveredSeries, ...]
    non_image_files: int = 0

    @property
    def first_header(self) -> SliceHeader | None:
        for s in self.series:
            if s.headers:
                return s.headers[0]
        return None


@dataclass
class _SeriesAcc:
    series_uid: str
    sources: dict[int, Source] = field(default_factory=dict)
    headers: list[tuple[int, SliceHeader]] = field(default_factory=list)
    unreadable: int = 0

    def build(self) -> DiscoveredSeries:
        if len(self.sources) == 1:
            (source,) = self.sources.values()
            headers = tuple(h for _, h in self.headers)
            return DiscoveredSeries(source, self.series_uid, headers, self.unreadable)
        order = sorted(self.sources)
        position = {index: k for k, index in enumerate(order)}
        multi = MultiSource([self.sources[i] for i in order])
        headers = tuple(replace(h, locator=f"{position[i]}/{h.locator}") for i, h in self.headers)
        return DiscoveredSeries(multi, self.series_uid, headers, self.unreadable)


@dataclass
class _StudyAcc:
    series: dict[str, _SeriesAcc] = field(default_factory=dict)
    non_image: int = 0


def discover(
    sources: Iterable[Source], on_file: Callable[[FileOutcome], None] | None = None
) -> Iterator[DiscoveredStudy]:
    """Scan every source, then yield one `DiscoveredStudy` per study, in first-seen order.

    Studies are yielded after all sources are scanned, since any file anywhere may belong
    to any study. Files without pixel data (reports, DICOMDIRs) are rejected as
    `no_pixel_data` but still make their study known, so it is accounted for.
    """
    studies: dict[str, _StudyAcc] = {}
    for index, source in enumerate(sources):
        for item in source.scan():
            outcome = _collect(studies, index, source, item)
            if on_file is not None:
                on_file(outcome)
    for study_uid, acc in studies.items():
        yield DiscoveredStudy(
            study_uid=study_uid,
            series=tuple(s.build() for s in acc.series.values() if s.headers or s.unreadable),
            non_image_files=acc.non_image,
        )


def _collect(
    studies: dict[str, _StudyAcc], index: int, source: Source, item: SliceHeader | FileRejection
) -> FileOutcome:
    if isinstance(item, FileRejection):
        if item.study_uid is not None and item.series_uid is not None:
            study = studies.setdefault(item.study_uid, _StudyAcc())
            series = study.series.setdefault(item.series_uid, _SeriesAcc(item.series_uid))
            series.sources.setdefault(index, source)
            series.unreadable += 1
        return FileOutcome(source, item.locator, item.reason, item.detail)
    study = studies.setdefault(item.study_uid, _StudyAcc())
    if not item.has_pixel_data:
        study.non_image += 1
        return FileOutcome(source, item.locator, FileReason.NO_PIXEL_DATA, "no Pixel Data")
    series = study.series.setdefault(item.series_uid, _SeriesAcc(item.series_uid))
    series.sources.setdefault(index, source)
    series.headers.append((index, item))
    return FileOutcome(source, item.locator, None)
