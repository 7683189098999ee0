"""Creating and migrating the store's tables, only when needed: a store whose schema is
current is opened with reads alone, so the driver's and the service's database roles
(jobs.store.roles), which may not create or alter tables nor write `lungscreen_meta`, can
open a store the schema owner has created and migrated."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from jobs.store import schema as t
from kernel.errors import BadInput

__all__ = ["ensure_schema", "read_schema"]

# Columns added after a table's first release: (table, column, DDL to add it).
_ADDED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("campaigns", "key_fingerprint",
     ("ALTER TABLE campaigns ADD COLUMN key_fingerprint VARCHAR(32)",)),
    # stores created before the audit chain: their events are sealed into it by the first
    # append (jobs.store.trail)
    ("events", "seq", ("ALTER TABLE events ADD COLUMN seq INTEGER",
                       "ALTER TABLE events ADD COLUMN mac VARCHAR(64)",
                       "CREATE UNIQUE INDEX ix_events_seq ON events (seq)")),
    # stores created before minted tokens: their rows have no MAC and are refused until
    # created again with the token key (jobs.store.tokenkey)
    ("tokens", "mac", ("ALTER TABLE tokens ADD COLUMN mac VARCHAR(64)",)),
    # stores created before scoped tokens: every row unscoped (NULL), as its MAC says
    ("tokens", "campaigns", ("ALTER TABLE tokens ADD COLUMN campaigns VARCHAR(2048)",)),
    # stores created before last-used times: never used, as far as they know
    ("tokens", "last_used_at",
     ("ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP WITH TIME ZONE",)),
)

# Indexes added after their table's first release: (table, index, DDL). A store without one
# is read as it is (slower); `ensure_schema` (a writing command, `store init`) adds it.
_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("results", "ix_results_patient",
     "CREATE INDEX ix_results_patient ON results (patient_pid, committed_at)"),
)


def ensure_schema(conn: Connection) -> tuple[str, str]:
    """Create missing tables, add missing columns and indexes and write the meta rows, each
    only when absent; the store's (store_id, schema_version) as found or written."""
    if not set(t.metadata.tables) <= set(inspect(conn).get_table_names()):
        t.metadata.create_all(conn)
    inspector = inspect(conn)  # a fresh one: create_all may have added tables
    for table, column, ddl in _ADDED:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            for statement in ddl:
                conn.exec_driver_sql(statement)
    for table, index, statement in _INDEXES:
        if index not in {i["name"] for i in inspector.get_indexes(table)}:
            conn.exec_driver_sql(statement)
    found = _meta(conn)
    wanted = {"store_id": uuid.uuid4().hex, "schema_version": t.SCHEMA_VERSION}
    missing = [{"key": k, "value": v} for k, v in wanted.items() if k not in found]
    if missing:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(t.meta).on_conflict_do_nothing(), missing)
        found = _meta(conn)
    return found["store_id"], found["schema_version"]


def read_schema(conn: Connection) -> tuple[str, str] | None:
    """The store's (store_id, schema_version) without any DDL or write: None when the
    database holds none of lungscreen's tables; BadInput when it holds some but not all of
    the current schema (created by an older version: `lungscreen store init` migrates it)."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    if not present & set(t.metadata.tables):
        return None
    missing = sorted(set(t.metadata.tables) - present)
    missing += [f"{table}.{column}" for table, column, _ in _ADDED
                if table in present and column not in
                {c["name"] for c in inspector.get_columns(table)}]
    found = _meta(conn) if t.meta.name in present else {}
    if missing or not {"store_id", "schema_version"} <= set(found):
        raise BadInput(f"the store lacks {', '.join(missing) or 'its meta rows'} (made by an "
                       "older lungscreen, or half created): run `lungscreen store init` on "
                       "it (as its schema owner) to migrate it, then read it")
    return found["store_id"], found["schema_version"]


def _meta(conn: Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute(select(t.meta.c.key, t.meta.c.value))}
