"""Store URLs: which databases the results store accepts, and how they are spelled.

- `sqlite:///relative/path.db` (relative to `base_dir`, e.g. the spec's folder) or
  `sqlite:////absolute/path.db`: a local SQLite file, created with its folder.
- `postgresql://user@host:port/db` (also `postgres://`, `postgresql+psycopg://`): PostgreSQL
  through psycopg 3. Passwords are best left to libpq (PGPASSWORD, ~/.pgpass) or a spec's
  store_password_env / store_password_file: a URL carrying one is refused wherever it is
  saved or seen (a spec, a command line: `refuse_password`), and never printed (`redact`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kernel.errors import BadInput

__all__ = ["default_sqlite_url", "normalize_url", "redact", "refuse_password", "sqlite_path"]

_PASSWORD = ("store: the URL carries a password; expected it outside {place}: name a variable "
             "in store_password_env or a file in store_password_file of the campaign's spec "
             "(or use PGPASSWORD / ~/.pgpass)")
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


def refuse_password(url: URL | str, place: str) -> None:
    """BadInput when `url` carries a password (`user:password@`, or `?password=`): `place`
    says where it would be seen (a spec, saved and copied; a command line, shown by ps and
    kept in shell history). The message names the remedies and never the password."""
    parsed = url
    if isinstance(url, str):
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # unparseable: look for user:password@ by hand
            if ":" in url.partition("://")[2].rpartition("@")[0]:
                raise BadInput(_PASSWORD.format(place=place)) from None
            return
    assert isinstance(parsed, URL)
    if parsed.password or "password" in parsed.query:
        raise BadInput(_PASSWORD.format(place=place))


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
