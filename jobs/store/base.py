"""The part every piece of the results store shares: the engine, write transactions,
keyed paging, insert-or-ignore, and the campaign-row helpers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from jobs.store import schema as t
from jobs.store.engine import WRITE, mapped_errors
from jobs.store.records import Campaign
from jobs.store.rows import campaign_from_row
from jobs.store.urls import redact
from kernel.errors import BadInput

__all__ = ["PAGE", "StoreBase", "utc_now"]


PAGE = 1000  # rows per page of a keyed read or a batched write


class StoreBase:
    """The connection a store holds and the helpers its parts share."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._dialect = engine.dialect.name
        self._url = engine.url
        self.url = redact(engine.url)  # printable: password hidden

    @contextlib.contextmanager
    def write_transaction(self, action: str) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), errors mapped as everywhere."""
        with mapped_errors(self._url, action), self._writer.begin() as conn:
            yield conn

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._dialect

    def _paged(self, query: Any, key: tuple[Any, ...], convert: Any, action: str) -> Iterator[Any]:
        last: tuple[Any, ...] | None = None
        while True:
            q = query.order_by(*key).limit(PAGE)
            if last is not None:
                q = q.where(tuple_(*key) > tuple_(*last))
            with mapped_errors(self._url, action), self._engine.connect() as conn:
                rows = [row._mapping for row in conn.execute(q)]
            for m in rows:
                yield convert(m)
            if len(rows) < PAGE:
                return
            last = tuple(rows[-1][col.name] for col in key)

    def _insert_ignore(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        # RETURNING yields only the rows actually inserted (conflicts are skipped), which
        # counts reliably for executemany, unlike rowcount.
        first_key = next(iter(table.primary_key.columns))
        stmt = dialect_insert(table).on_conflict_do_nothing().returning(first_key)
        return len(conn.execute(stmt, rows).all())

    def _campaign(
        self, conn: Connection, campaign_id: str, *, for_update: bool = False
    ) -> Campaign | None:
        q = select(t.campaigns).where(t.campaigns.c.id == campaign_id)
        if for_update and self._dialect == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        return None if row is None else campaign_from_row(row._mapping)

    def _unknown(self, conn: Connection, campaign_id: str) -> BadInput:
        known = conn.execute(select(t.campaigns.c.id).order_by(t.campaigns.c.id)).scalars()
        names = ", ".join(known) or "none"
        return BadInput(f"unknown campaign {campaign_id!r}; the store holds: {names}")

    def _audit(
        self, conn: Connection, campaign_id: str | None, kind: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(t.events).values(
                campaign_id=campaign_id, at=utc_now(), kind=kind, detail=json.dumps(detail)
            )
        )


def utc_now() -> datetime:
    return datetime.now(UTC)
