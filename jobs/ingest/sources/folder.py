"""A folder tree of DICOM files, any layout, any file names."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from jobs.ingest.dicom.headers import FileRejection, SliceHeader, read_header
from kernel.errors import BadInput, PermanentError
from kernel.reasons import FileReason

__all__ = ["FolderSource"]


BATCH = 256  # files per task when reading headers in worker processes


class FolderSource:
    """Every regular file under `root`, recursively, in a stable (sorted) order.

    Symbolic links are never followed (a link can point out of the tree) and special files
    (FIFOs, devices, sockets) are never opened (reading one could block); each is reported
    as a rejected file. Locators are paths relative to `root`. With `workers` > 1, headers
    are read by that many processes, in batches, and yielded in the same order.
    """

    def __init__(self, root: Path | str, *, workers: int = 1) -> None:
        path = Path(root)
        if not path.is_dir():
            raise BadInput(
                f"source folder {str(path)!r} does not exist or is not a folder; "
                "pass an existing folder of DICOM files"
            )
        self.root = path.resolve()
        self.workers = max(1, workers)

    @property
    def label(self) -> str:
        return self.root.name or "root"

    def __repr__(self) -> str:
        return f"FolderSource({self.label!r})"

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        batches = _batched(self.files(), BATCH)
        if self.workers == 1:
            for batch in batches:
                yield from read_batch(self.root, batch)
            return
        context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            for results in pool.map(read_batch, itertools.repeat(self.root), batches):
                yield from results

    def files(self) -> Iterator[str]:
        """Relative paths of every entry that is not a folder, sorted, links included."""
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            base = Path(dirpath).relative_to(self.root)
            linked = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
            for name in sorted(filenames + linked):
                yield (base / name).as_posix()

    def path_of(self, locator: str) -> Path:
        """The file a locator names, refusing any locator that leaves the root."""
        path = (self.root / locator).resolve()
        if not path.is_relative_to(self.root):
            raise PermanentError("locator leaves the source folder; refusing to read it")
        return path

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        for i, h in enumerate(headers):  # by file: right even if two files share a SOP UID
            yield i, self._read(h.locator)

    def _read(self, locator: str) -> Dataset:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return dcmread(self.path_of(locator))
        except Exception as exc:
            raise PermanentError(
                f"cannot read a slice file ({type(exc).__name__}); it changed or was "
                "truncated after discovery"
            ) from exc


def read_batch(root: Path, locators: Sequence[str]) -> list[SliceHeader | FileRejection]:
    """Headers of `locators` under `root`; never raises for a bad or special file."""
    out: list[SliceHeader | FileRejection] = []
    for rel in locators:
        path = root / rel
        try:
            mode = path.lstat().st_mode
        except OSError as exc:
            out.append(
                FileRejection(rel, FileReason.UNREADABLE_FILE, f"cannot stat: {exc.strerror}")
            )
            continue
        if stat.S_ISLNK(mode):
            out.append(FileRejection(rel, FileReason.UNREADABLE_FILE, "symbolic link not followed"))
        elif not stat.S_ISREG(mode):
            out.append(FileRejection(rel, FileReason.UNREADABLE_FILE, "not a regular file"))
        else:
            out.append(read_header(path, rel))
    return out


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch
