"""The seam every study source implements: list headers, then read selected instances."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from pydicom.dataset import Dataset

from jobs.ingest.dicom.headers import FileRejection, SliceHeader

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """A place studies are read from.

    `scan` yields one outcome per file or instance the source holds (headers only, never
    pixel data); `read_instances` returns full datasets, pixel data included, for the
    instances of a selected series, in any order, each with its index in the request.
    """

    @property
    def label(self) -> str:
        """A short PHI-free name: the folder's name, or the archive's host."""
        ...

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        """Yield one header or rejection per file; never raises for bad files."""
        ...

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        """Yield (i, full dataset of headers[i]) for each instance, in any order.

        Raises kernel.errors.PermanentError when an instance cannot be read, and
        RetryableError when the source is unavailable.
        """
        ...
