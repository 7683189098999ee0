"""The audit log of the results store: append-only events that hold no PHI."""

from __future__ import annotations

import json

from sqlalchemy import select

from jobs.store import schema as t
from jobs.store.base import StoreBase
from jobs.store.engine import mapped_errors
from jobs.store.records import AuditEvent
from jobs.store.rows import as_utc

__all__ = ["AuditLog"]


class AuditLog(StoreBase):
    """Audit events (exports, role checks): appended, never changed."""

    def audit(self, campaign_id: str | None, kind: str, **detail: str | int | float) -> None:
        """Append an audit event (e.g. kind="recall_export"). `detail` must hold no PHI."""
        with mapped_errors(self._url, "writing the audit log"), self._writer.begin() as conn:
            self._audit(conn, campaign_id, kind, detail)

    def events(self, campaign_id: str | None = None) -> list[AuditEvent]:
        """Audit events, oldest first (all campaigns when campaign_id is None)."""
        q = select(t.events).order_by(t.events.c.id)
        if campaign_id is not None:
            q = q.where(t.events.c.campaign_id == campaign_id)
        with mapped_errors(self._url, "reading the audit log"), self._engine.connect() as conn:
            return [
                AuditEvent(as_utc(m["at"]), m["campaign_id"], m["kind"], json.loads(m["detail"]))
                for m in (row._mapping for row in conn.execute(q))
            ]
