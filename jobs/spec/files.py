"""Writing a private file: owner-only (0600) from its first byte, fsynced, replaced
atomically, so a reader sees the old file or the whole new one and nobody else ever can."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_private"]


def write_private(path: Path, data: bytes, *, prefix: str = ".tmp-",
                  folder_mode: int = 0o777) -> None:
    """`data` to `path`, owner-only, replaced atomically (the folder made with
    `folder_mode` if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=folder_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
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
