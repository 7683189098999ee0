"""One series spread over several sources (a study copied half to one folder source, half
to another): reads each slice from the source that holds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from pydicom.dataset import Dataset

from jobs.ingest.dicom.headers import FileRejection, SliceHeader
from jobs.ingest.sources.base import Source

__all__ = ["MultiSource"]


class MultiSource:
    """Sources seen as one; a locator is "K/LOCATOR", K the index of the source holding it."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = tuple(sources)

    @property
    def label(self) -> str:
        return self.sources[0].label

    def __repr__(self) -> str:
        return f"MultiSource({', '.join(s.label for s in self.sources)})"

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        for k, source in enumerate(self.sources):
            for item in source.scan():
                yield replace(item, locator=f"{k}/{item.locator}")

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        by_source: dict[int, list[tuple[int, SliceHeader]]] = {}
        for i, h in enumerate(headers):
            head, _, rest = h.locator.partition("/")
            by_source.setdefault(int(head), []).append((i, replace(h, locator=rest)))
        for k, items in by_source.items():
            for j, ds in self.sources[k].read_instances([h for _, h in items]):
                yield items[j][0], ds
