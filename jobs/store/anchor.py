"""The audit key and the head anchors: files in the state folder, apart from the store.

- `<state>/audit.key`: 32 random bytes, owner-only (0600), created once. Whoever can write
  the store cannot forge a MAC without it; it is not the pseudonym key.
- `<state>/audit-anchors/<digest of the store's address>.json`: the head (seq, MAC) of that
  store's trail, rewritten after each append (atomically, under a lock). It is what lets
  `verify` tell a truncated or emptied trail from a short one: the store must still hold
  the anchored seq with the anchored MAC. The anchor only moves forward, and only onto a
  chain that continues the one it names, so appending after a cut does not hide the cut.

The caller (the CLI, the service) locates the state folder (jobs.spec.state) and passes it
in; nothing here reads the environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from kernel.errors import BadInput

__all__ = ["KEY_FILE", "AuditKey", "Head"]

KEY_FILE = "audit.key"
ANCHORS = "audit-anchors"
_KEY_BYTES = 32


@dataclass(frozen=True)
class Head:
    """The last event of a trail: its sequence number and MAC."""

    seq: int
    mac: str


@dataclass(frozen=True, repr=False)
class AuditKey:
    """The audit key and where the anchors live (`state_dir`)."""

    key: bytes
    state_dir: Path

    def __repr__(self) -> str:  # never print the key
        return f"AuditKey(state_dir={str(self.state_dir)!r})"

    @classmethod
    def load(cls, state_dir: Path, *, create: bool = True) -> AuditKey:
        """The key in `state_dir/audit.key`, created once (0600, folder 0700) when `create`.
        BadInput when it is missing (and not to be created), readable by group or others
        (with the chmod fix), or not 32 bytes."""
        path = Path(state_dir).expanduser().absolute() / KEY_FILE
        if not path.exists():
            if not create:
                raise BadInput(f"no audit key at {path}; it is created by the first command "
                               "that writes the audit trail (LUNGSCREEN_STATE_DIR sets the "
                               "state folder)")
            _create_private(path, secrets.token_bytes(_KEY_BYTES))
        return cls(_read_private(path), path.parent)

    def anchor_path(self, url: URL) -> Path:
        """The anchor file of the store at `url` (its address without user or password)."""
        where = url.set(username=None, password=None).render_as_string(hide_password=True)
        name = hashlib.sha256(where.encode()).hexdigest()[:32]
        return self.state_dir / ANCHORS / f"{name}.json"

    def read_anchor(self, url: URL) -> Head | None:
        """The anchored head of the store at `url`; None when none was written here.
        BadInput when the anchor file is not a head (edited or damaged)."""
        path = self.anchor_path(url)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return Head(int(raw["seq"]), str(raw["mac"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"audit anchor {path} is unreadable ({type(exc).__name__}); "
                           "it was edited or damaged: the trail cannot be checked") from None

    def advance_anchor(self, url: URL, head: Head, prev: Head, confirmed: Head | None) -> None:
        """Move the anchor to `head` (whose predecessor is `prev`) when it continues the
        anchored chain: the anchor is `prev`, or it is `confirmed` (found in the store, at
        its seq with its MAC, in the transaction that appended `head`), or there is none.
        Otherwise leave it, so that `verify` still sees the cut."""
        path = self.anchor_path(url)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                now = self.read_anchor(url)
            except BadInput:
                return  # keep the damage visible to verify
            if now is None or now == prev or (now == confirmed and now.seq < head.seq):
                text = json.dumps({"seq": head.seq, "mac": head.mac}).encode()
                _replace_private(path, text)
        finally:
            os.close(lock)


def _create_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # one creator wins; others read its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _replace_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_private(path: Path, what: str = "audit key") -> bytes:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{what} {str(path)!r} is not a regular file; expected a key file")
    if info.st_mode & 0o077:
        raise BadInput(f"{what} {str(path)!r} is readable by group or others (mode "
                       f"{stat.S_IMODE(info.st_mode):04o}); expected owner-only access: "
                       f"run `chmod 600 {path}`")
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise BadInput(f"{what} {str(path)!r} holds {len(key)} bytes; expected "
                       f"{_KEY_BYTES}: restore it from the deployment's backup")
    return key
