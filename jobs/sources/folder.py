"""A folder tree of DICOM files, any layout, any file names."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from jobs.dicom.headers import FileRejection, SliceHeader, read_header
from jobs.errors import BadInput, PermanentError
from jobs.reasons import FileReason

__all__ = ["FolderSource"]


class FolderSource:
    """Every regular file under `root`, recursively, in a stable (sorted) order.

    Symbolic links are never followed (a link can point out of the tree); each one is
    reported as a rejected file. Locators are paths relative to `root`.
    """

    def __init__(self, root: Path | str) -> None:
        path = Path(root)
        if not path.is_dir():
            raise BadInput(
                f"source folder {str(path)!r} does not exist or is not a folder; "
                "pass an existing folder of DICOM files"
            )
        self.root = path.resolve()

    @property
    def label(self) -> str:
        return self.root.name or "root"

    def __repr__(self) -> str:
        return f"FolderSource({self.label!r})"

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        for rel in self.files():
            path = self.root / rel
            if path.is_symlink():
                yield FileRejection(rel, FileReason.UNREADABLE_FILE, "symbolic link not followed")
                continue
            yield read_header(path, rel)

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

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[Dataset]:
        for h in headers:
            yield self._read(h.locator)

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
