"""The deployment's pseudonym key: 32 random bytes in a file only its owner can read.

The key is the "additional information" that turns pseudonyms back into people (with the
sources), so it lives in its own file, never in the results store, and is created once:
losing or changing it changes every pseudonym, which breaks resuming and recall.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from kernel.errors import BadInput

__all__ = ["KEY_BYTES", "load_or_create_key", "read_key"]

KEY_BYTES = 32


def load_or_create_key(path: Path | str) -> bytes:
    """Return the key stored at `path`, creating it (once, atomically) if it does not exist.

    A new key is 32 bytes from `secrets`, written to a temporary file (mode 0600) in the same
    folder, fsynced, then published with `os.link`, which fails if another process created
    the key first; the loser reads the winner's key. A parent folder that has to be created
    gets mode 0700.

    Raises BadInput when the file is readable by group or others (fix: `chmod 600 PATH`),
    is not a regular file, or does not hold exactly 32 bytes.
    """
    path = Path(path).expanduser().absolute()
    if not path.exists():
        _create(path)
    return _read(path)


def read_key(path: Path | str) -> bytes:
    """The key at `path`, never created (a worker opens what the driver sealed with the
    deployment's key; a new key would open nothing). OSError when there is none; BadInput
    as `load_or_create_key`."""
    return _read(Path(path).expanduser().absolute())


def _create(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(
                f"cannot create the folder for the pseudonym key {str(parent)!r}: "
                f"{exc.strerror}; expected a writable location for privacy.key_file"
            ) from exc
    tmp = parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BadInput(
            f"cannot create the pseudonym key in {str(parent)!r}: {exc.strerror}; "
            "expected a writable folder for privacy.key_file"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        # link() never replaces an existing file: exactly one creator wins the race.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        _fsync_dir(parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _read(path: Path) -> bytes:
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"pseudonym key {str(path)!r} is not a regular file; expected a key file")
    if st.st_mode & 0o077:
        raise BadInput(
            f"pseudonym key {str(path)!r} is readable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); expected owner-only access: "
            f"run `chmod 600 {path}`"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise BadInput(
            f"pseudonym key {str(path)!r} holds {len(key)} bytes; expected {KEY_BYTES}. "
            "Restore the deployment's key from its backup (a new key changes every pseudonym)"
        )
    return key


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
