"""The store's database seam: engines set up for durability, and SQLAlchemy errors mapped
into the project's error tree (kernel.errors) so nothing above this module sees them.

SQLite: WAL, synchronous=FULL (a commit survives power loss), foreign keys, a busy timeout;
the driver's own transaction handling is off and BEGIN is emitted explicitly, BEGIN
IMMEDIATE for write transactions so two writers queue on the busy timeout instead of
failing mid-transaction. The file must be on a local disk (WAL uses shared memory).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from jobs.store.urls import redact, sqlite_path
from kernel.errors import BadInput, PermanentError, RetryableError

__all__ = ["WRITE", "absent_store", "make_engine", "mapped_errors"]

log = logging.getLogger("jobs")

# Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE = "lungscreen_write"


def make_engine(url: URL, *, busy_timeout_s: float, create: bool = True) -> Engine:
    """An engine for a normalised store URL (see urls.normalize_url). A SQLite file (and its
    folder) is created only when `create`; without, a missing file is BadInput
    (`absent_store`) and nothing is created."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, round(busy_timeout_s))},
        )
    if not create and not path.is_file():
        raise absent_store(url, "no such file")
    try:
        _private_file(path)
    except OSError as exc:
        raise BadInput(
            f"store: cannot create the folder or file of {redact(url)!r} ({exc.strerror}); "
            "expected a writable local folder"
        ) from exc
    engine = create_engine(url, connect_args={"check_same_thread": False})
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def absent_store(url: URL, why: str) -> BadInput:
    """The refusal of a command that only reads, for a URL that names no store: the URL
    (password hidden), why, and how to create one."""
    return BadInput(f"no results store at {redact(url)!r} ({why}); check the URL, or create "
                    "it with `lungscreen campaign run` or `lungscreen store init`")


def _private_file(path: Path) -> None:
    """Create the store's folder (0700) and file (0600) before SQLite does, so no other
    local user can read per-study rows (SQLite gives its WAL and shared-memory files the
    database file's mode). An existing store others can read is named, with the fix."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("store %s is readable by other users (mode %o): run `chmod 600 %s*` "
                    "and `chmod 700 %s`", path, mode, path, path.parent)


@contextlib.contextmanager
def mapped_errors(url: URL, action: str) -> Iterator[None]:
    """Re-raise SQLAlchemy errors from `action` as BadInput / RetryableError / PermanentError.

    Messages name the store (password hidden) and the database's own first line, never the
    SQL parameters.
    """
    try:
        yield
    except OperationalError as exc:
        why = _first_line(exc)
        if "unable to open database file" in why:
            raise BadInput(
                f"store: cannot open {redact(url)!r} ({why}); expected a writable local file"
            ) from exc
        if "database \"" in why and "does not exist" in why:
            raise absent_store(url, "the database does not exist: lungscreen creates "
                               "tables, never databases") from exc
        raise RetryableError(
            f"results store {redact(url)!r} unavailable while {action}: {why}; retry later"
        ) from exc
    except IntegrityError as exc:
        raise PermanentError(
            f"results store {redact(url)!r} rejected {action}: {_first_line(exc)}"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise RetryableError(
                f"results store {redact(url)!r} connection lost while {action}: "
                f"{_first_line(exc)}; retry later"
            ) from exc
        raise PermanentError(
            f"results store {redact(url)!r} failed while {action}: {_first_line(exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise PermanentError(
            f"results store {redact(url)!r} failed while {action}: {type(exc).__name__}"
        ) from exc


def _first_line(exc: DBAPIError) -> str:
    orig = exc.orig if exc.orig is not None else exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
