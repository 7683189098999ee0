"""The audit trail of the results store: events that hold no PHI, appended to one keyed,
anchored chain (jobs.store.trail), read back and verified."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from jobs.store import schema as t
from jobs.store.anchor import AuditKey, Head
from jobs.store.base import StoreBase
from jobs.store.chain import find_break
from jobs.store.engine import mapped_errors
from jobs.store.records import AuditEvent
from jobs.store.rows import as_utc
from jobs.store.trail import (
    TrailBroken,
    TrailCheck,
    chain_row,
    check_anchor,
    unsequenced,
    verify_rows,
)
from kernel.errors import BadInput

__all__ = ["AuditLog"]


class AuditLog(StoreBase):
    """Audit events (requests, exports, tokens, state changes): appended, never changed."""

    def audit(self, campaign_id: str | None, kind: str, **detail: str | int | float) -> Head:
        """Append an audit event (e.g. kind="recall_export"); its (seq, MAC). `detail` must
        hold no PHI. BadInput when the store was opened without the audit key."""
        with self.write_transaction("writing the audit log") as conn:
            return self._audit(conn, campaign_id, kind, detail)

    def events(self, campaign_id: str | None = None, *, who: str | None = None,
               since: datetime | None = None) -> list[AuditEvent]:
        """Audit events, oldest first: all campaigns when campaign_id is None; `who` (the
        request's or export's operator) and `since` narrow them."""
        q = select(t.events).order_by(t.events.c.id)
        if campaign_id is not None:
            q = q.where(t.events.c.campaign_id == campaign_id)
        if since is not None:
            q = q.where(t.events.c.at >= since)
        with mapped_errors(self._url, "reading the audit log"), self._engine.connect() as conn:
            found = [self._event_row(row._mapping) for row in conn.execute(q)]
        if who is None:
            return found
        return [e for e in found if who in (e.detail.get("who"), e.detail.get("operator"))]

    def verify_trail(self) -> TrailCheck:
        """Check the whole trail under the audit key and against its anchor (see
        jobs.store.trail); the report names the first bad seq and what is wrong."""
        key = self._key("verify the audit trail")
        ev = t.events.c
        query = select(ev.seq, ev.at, ev.campaign_id, ev.kind, ev.detail, ev.mac
                       ).where(ev.seq.is_not(None))
        rows = self._paged(query, (ev.seq,), chain_row, "reading the audit trail")
        brk, last = verify_rows(key.key, self._store_id, rows)
        anchor = key.read_anchor(self._url)
        unsealed = 0
        if brk is None:
            with mapped_errors(self._url, "reading the audit trail"), \
                    self._engine.connect() as conn:
                brk, unsealed = unsequenced(conn, last.seq)
                stored = None if anchor is None else conn.execute(
                    select(ev.mac).where(ev.seq == anchor.seq)).scalar()
            brk = brk or check_anchor(anchor, last, stored)
        head = last if last.seq else None
        return TrailCheck(last.seq, head, anchor, brk, unsealed)

    def verify_head(self) -> Head | None:
        """Check the trail from its anchor to its end (the whole trail when nothing is
        anchored here); the head an export may append after. TrailBroken naming the
        first bad seq when the trail is broken: nothing may be exported on it."""
        key = self._key("check the audit trail before an export")
        anchor = key.read_anchor(self._url)
        ev = t.events.c
        start = 0 if anchor is None else anchor.seq - 1
        rows = [] if start < 1 else list(self._paged(
            select(ev.seq, ev.at, ev.campaign_id, ev.kind, ev.detail, ev.mac
                   ).where(ev.seq >= start), (ev.seq,), chain_row, "reading the audit trail"))
        if anchor is None or not rows or rows[0].seq != start:
            check = self.verify_trail()  # nothing anchored here, or the anchor's parent is
            brk, head = check.problem, check.head  # gone: the whole trail says why
        else:
            brk, seq, mac = find_break(key.key, rows[0].mac, start, rows[1:])
            head = Head(seq, mac)
            if brk is None:
                stored = next((r.mac for r in rows if r.seq == anchor.seq), None)
                with mapped_errors(self._url, "reading the audit trail"), \
                        self._engine.connect() as conn:
                    brk = unsequenced(conn, seq)[0] or check_anchor(anchor, head, stored)
        if brk is not None:
            raise TrailBroken(f"the audit trail of {self.url} is broken at {brk}; run "
                                 "`lungscreen audit verify` and restore the store from a "
                                 "backup before exporting")
        return head

    def _key(self, action: str) -> AuditKey:
        if self._audit_key is None:
            raise BadInput(f"the audit key is needed to {action}; open the store with "
                           "audit_key=AuditKey.load(state folder)")
        return self._audit_key

    def _event_row(self, m: Any) -> AuditEvent:
        return AuditEvent(as_utc(m["at"]), m["campaign_id"], m["kind"], json.loads(m["detail"]),
                          m["seq"], m["mac"] or "")
