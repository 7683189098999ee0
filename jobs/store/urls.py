"""Store URLs: which databases the results store accepts, and how they are spelled.

- `sqlite:///relative/path.db` (relative to `base_dir`, e.g. the spec's folder) or
  `sqlite:////absolute/path.db`: a local SQLite file, created with its folder.
- `postgresql://user@host:port/db` (also `postgres://`, `postgresql+psycopg://`): PostgreSQL
  through psycopg 3. Passwords are best left to libpq (PGPASSWORD, ~/.pgpass); a password in
  the URL is never printed (`redact`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kernel.errors import BadInput

__all__ = ["default_sqlite_url", "normalize_url", "redact", "sqlite_path"]

_EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"


def default_sqlite_url(data_dir: Path) -> str:
    """The store a campaign uses when its spec names none: results.db in the data folder."""
    return f"sqlite:///{(Path(data_dir) / 'results.db').absolute()}"


def normalize_url(url: str, *, base_dir: Path | None = None) -> URL:
    """Parse and canonicalise a store URL; BadInput (password hidden) for anything else."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise BadInput(f"store: {_safe(url)!r} is not a database URL; {_EXPECTED}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise BadInput(f"store: driver {driver!r} is not supported for SQLite; {_EXPECTED}")
        db = parsed.database
        if not db or db == ":memory:":
            raise BadInput(f"store: {redact(parsed)!r} names no database file; {_EXPECTED}")
        path = Path(db).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return parsed.set(drivername="sqlite", database=str(path.absolute()))
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise BadInput(
                f"store: driver {driver!r} is not supported for PostgreSQL (psycopg 3 is used); "
                "write postgresql://..."
            )
        if not parsed.database:
            raise BadInput(f"store: {redact(parsed)!r} names no database; {_EXPECTED}")
        return parsed.set(drivername="postgresql+psycopg")
    raise BadInput(f"store: {redact(parsed)!r} uses {backend!r}; {_EXPECTED}")


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, None for other databases."""
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def redact(url: URL | str) -> str:
    """The URL as text with any password replaced by ***."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _safe(url)


def _safe(text: str) -> str:
    # An unparseable URL may still hold "user:password@": keep only what precedes it.
    scheme, sep, rest = text.partition("://")
    return f"{scheme}{sep}***@{rest.split('@', 1)[1]}" if "@" in rest else text
