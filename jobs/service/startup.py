"""Safe by default, checked before `lungscreen serve` opens anything.

- `check_bind`: plain HTTP only on loopback; a non-loopback bind needs TLS (a certificate
  and key) or `--insecure-http`, which is then warned about.
- `check_private_files`: the SQLite store (and its WAL and shared-memory files) and the TLS
  private key must be owner-only; one others can read is refused with the chmod fix. (The
  audit and token keys are refused the same way where they are read, jobs.store.anchor.)
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Iterable
from pathlib import Path

from jobs.store import normalize_url, sqlite_path
from kernel.errors import BadInput

__all__ = ["check_bind", "check_private_files", "private_files"]


def _loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def check_bind(host: str, *, tls: bool, insecure_http: bool) -> str | None:
    """None when binding `host` is safe; the warning to print when it is plain HTTP off
    loopback with `insecure_http`; BadInput when it is plain HTTP off loopback without."""
    if tls or _loopback(host):
        return None
    if not insecure_http:
        raise BadInput(f"--host {host[:64]} is not loopback and the service has no TLS: tokens "
                       "and tables would cross the network in clear text; give --certfile "
                       "and --keyfile, or bind 127.0.0.1 behind a TLS proxy, or (on a network "
                       "you trust) add --insecure-http")
    return (f"warning: serving plain HTTP on {host[:64]} (--insecure-http): bearer tokens and "
            "tables cross the network unencrypted")


def private_files(store_url: str, keyfile: Path | None) -> list[tuple[str, Path]]:
    """The files `serve` refuses to start with when others can read them: the SQLite store
    and its -wal / -shm files (when they exist) and the TLS key."""
    found: list[tuple[str, Path]] = []
    db = sqlite_path(normalize_url(store_url))
    if db is not None:
        found += [("store", p) for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"))
                  if p.exists()]
    if keyfile is not None:
        found.append(("TLS key", Path(keyfile)))
    return found


def check_private_files(files: Iterable[tuple[str, Path]]) -> None:
    """BadInput naming the first file that group or others may read (or that is missing),
    with the chmod fix; the file's contents are never read here."""
    for what, path in files:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            raise BadInput(f"{what} {str(path)!r}: cannot read it ({exc.strerror})") from None
        if mode & 0o077:
            raise BadInput(f"{what} {str(path)!r} is readable by group or others (mode "
                           f"{mode:04o}); expected owner-only access: run `chmod 600 {path}` "
                           "and start again")
