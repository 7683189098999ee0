"""The part every piece of the results store shares: the engine, write transactions,
keyed paging, insert-or-ignore, the campaign-row helpers and the audit trail's one append
path (jobs.store.trail), whose head is anchored once the write transaction commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from jobs.store import schema as t
from jobs.store.anchor import AuditKey, Head
from jobs.store.engine import WRITE, mapped_errors
from jobs.store.records import Campaign
from jobs.store.rows import campaign_from_row
from jobs.store.trail import Pending, append_event
from jobs.store.urls import redact
from kernel.errors import BadInput, PermanentError

__all__ = ["PAGE", "StoreBase", "utc_now"]


PAGE = 1000  # rows per page of a keyed read or a batched write
_PENDING = "lungscreen_audit_heads"  # connection info: heads to anchor after the commit


class StoreBase:
    """The connection a store holds and the helpers its parts share."""

    def __init__(self, engine: Engine, audit_key: AuditKey | None = None,
                 operator: str | None = None) -> None:
        self._engine = engine
        self._audit_key = audit_key
        self._operator = operator  # the CLI's OS account@host, recorded on its events
        self._store_id = ""  # set when the schema is read (lungscreen_meta.store_id)
        self._writer = engine.execution_options(**{WRITE: True})
        self._dialect = engine.dialect.name
        self._url = engine.url
        self.url = redact(engine.url)  # printable: password hidden

    @contextlib.contextmanager
    def write_transaction(self, action: str) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), errors mapped as everywhere;
        the audit events it appended are anchored once it commits."""
        pending: list[Pending] = []
        with mapped_errors(self._url, action), self._writer.begin() as conn:
            conn.info[_PENDING] = pending
            try:
                yield conn
            finally:
                conn.info.pop(_PENDING, None)
        key = self._audit_key
        for p in pending:
            assert key is not None
            try:
                key.advance_anchor(self._url, p.head, p.prev, p.confirmed)
            except OSError as exc:
                raise PermanentError(
                    f"audit event seq {p.head.seq} is stored but its anchor could not be "
                    f"written in {key.state_dir} ({exc.strerror}); fix the state folder"
                ) from None

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
        if not rows:
            return 0
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
    ) -> Head:
        """Append an event to the chain inside a `write_transaction`; its (seq, MAC). The
        store's operator (the CLI's OS account) is recorded unless the event names one."""
        if self._audit_key is None:
            raise BadInput(f"store {self.url!r} was opened without the audit key, so it "
                           "cannot append to the audit trail; open it with "
                           "audit_key=AuditKey.load(state folder)")
        if self._operator and "operator" not in detail and "who" not in detail:
            detail = {**detail, "operator": self._operator}
        pending: list[Pending] = conn.info[_PENDING]
        done = append_event(conn, self._dialect, self._audit_key, self._url, self._store_id,
                            campaign_id, kind, detail, utc_now())
        pending.append(done)
        return done.head


def utc_now() -> datetime:
    return datetime.now(UTC)
