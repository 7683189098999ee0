"""Creating and migrating the store's tables (as jobs.store.schema declares them, with the
columns and indexes added since), only when needed: a store whose schema is current is
opened with reads alone, so the driver's and the service's database roles
(jobs.store.roles), which may not create or alter tables nor write `lungscreen_meta`, can
open a store the schema owner has created and migrated."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from jobs.store import schema as t
from kernel.errors import BadInput

__all__ = ["ensure_schema", "read_schema"]


def ensure_schema(conn: Connection) -> tuple[str, str]:
    """Create missing tables, add missing columns and indexes and write the meta rows, each
    only when absent; the store's (store_id, schema_version) as found or written."""
    if not set(t.metadata.tables) <= set(inspect(conn).get_table_names()):
        t.metadata.create_all(conn)
    inspector = inspect(conn)  # a fresh one: create_all may have added tables
    for table, column, ddl in t.ADDED_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            for statement in ddl:
                conn.exec_driver_sql(statement)
    for table, index, statement in t.ADDED_INDEXES:
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
    missing += [f"{table}.{column}" for table, column, _ in t.ADDED_COLUMNS
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
