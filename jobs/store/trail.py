"""The store's audit trail: the one append path and the checks, over the `events` table.

Why it holds: every event is appended here, in the writer's transaction, with the next
sequence number and a MAC chained to the one before (jobs.store.chain) under the audit key
(jobs.store.anchor), which the store does not hold. Whoever can write the store can still
delete or rewrite rows, but cannot make the MACs agree again without the key: an edited,
removed, reordered or inserted event breaks the chain where it was touched. What a chain
cannot show on its own is a cut tail (or an emptied table): that is what the anchor is for.
After each append commits, the head (seq, MAC) is written beside the audit key in the state
folder; `verify` requires the store to still hold the anchored seq with the anchored MAC.
The file log that recall keeps in the data folder (jobs.recall) carries, on each line, the
seq and MAC of the store event it mirrors, so the store's anchored chain in turn shows a
removed or edited line there. Events written before the chain existed are sealed into it,
in their order, by the first append under a key.

Appends are serialised: SQLite's BEGIN IMMEDIATE, PostgreSQL's transaction-scoped advisory
lock; the sequence number is also unique in the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.engine import URL

from jobs.store import schema as t
from jobs.store.anchor import AuditKey, Head
from jobs.store.chain import Break, ChainRow, event_mac, find_break, genesis_mac
from jobs.store.rows import as_utc
from kernel.errors import PermanentError

__all__ = ["Pending", "TrailBroken", "TrailCheck", "append_event", "chain_row", "check_anchor",
           "unsequenced", "verify_rows"]

_LOCK = 0x6C756E67  # PostgreSQL advisory lock id of the trail ("lung")


class TrailBroken(PermanentError):
    """The audit trail does not verify: nothing may be exported on it."""


@dataclass(frozen=True)
class Pending:
    """An appended event's head, to anchor once its transaction commits."""

    head: Head
    prev: Head
    confirmed: Head | None  # the anchor, found intact in the store by this transaction


@dataclass(frozen=True)
class TrailCheck:
    """What `verify` found: the events chained, the head, the anchor, the first break."""

    events: int
    head: Head | None
    anchor: Head | None
    problem: Break | None
    unsealed: int = 0  # events written before the chain existed, sealed by the next append

    @property
    def ok(self) -> bool:
        return self.problem is None


def chain_row(m: Any) -> ChainRow:
    """A ChainRow from an `events` row mapping (times as UTC)."""
    return ChainRow(int(m["seq"]), as_utc(m["at"]), m["campaign_id"], m["kind"], m["detail"],
                    m["mac"] or "")


def append_event(conn: Connection, dialect: str, key: AuditKey, url: URL, store_id: str,
                 campaign_id: str | None, kind: str, detail: dict[str, Any], at: datetime
                 ) -> Pending:
    """Append one event to the chain in `conn`'s write transaction (see the module doc)."""
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    ev = t.events.c
    last = conn.execute(select(ev.seq, ev.mac).where(ev.seq.is_not(None))
                        .order_by(ev.seq.desc()).limit(1)).first()
    if last is None:
        prev = _seal_unsequenced(conn, key.key, Head(0, genesis_mac(key.key, store_id)))
    else:
        prev = Head(int(last.seq), str(last.mac))
    anchor = key.read_anchor(url)
    confirmed = None
    if anchor is not None and anchor.seq <= prev.seq:
        stored = conn.execute(select(ev.mac).where(ev.seq == anchor.seq)).scalar()
        confirmed = anchor if stored == anchor.mac else None
    body = json.dumps(detail, sort_keys=True, separators=(",", ":"))
    seq = prev.seq + 1
    mac = event_mac(key.key, prev.mac, seq, at, campaign_id, kind, body)
    conn.execute(insert(t.events).values(seq=seq, mac=mac, campaign_id=campaign_id, at=at,
                                         kind=kind, detail=body))
    return Pending(Head(seq, mac), prev, confirmed)


def _seal_unsequenced(conn: Connection, key: bytes, prev: Head) -> Head:
    """Chain the events written before the trail had a key, in their order."""
    ev = t.events.c
    rows = conn.execute(select(ev.id, ev.at, ev.campaign_id, ev.kind, ev.detail)
                        .where(ev.seq.is_(None)).order_by(ev.id)).all()
    for row in rows:
        m = chain_row({**row._mapping, "seq": prev.seq + 1, "mac": ""})
        mac = event_mac(key, prev.mac, m.seq, m.at, m.campaign_id, m.kind, m.detail)
        conn.execute(update(t.events).where(ev.id == row.id).values(seq=m.seq, mac=mac))
        prev = Head(m.seq, mac)
    return prev


def unsequenced(conn: Connection, last_seq: int) -> tuple[Break | None, int]:
    """Rows without a sequence number: a break when the chain has begun (they were
    inserted behind its back), else the count of events still to be sealed."""
    ev = t.events.c
    count, first_id = conn.execute(select(func.count(), func.min(ev.id))
                                   .where(ev.seq.is_(None))).one()
    if not count:
        return None, 0
    if last_seq == 0:
        return None, int(count)
    after = conn.execute(select(func.min(ev.seq)).where(ev.id > first_id,
                                                        ev.seq.is_not(None))).scalar()
    seq = int(after) if after is not None else last_seq + 1
    return Break(seq, f"{count} event(s) without a sequence number were inserted (the "
                 f"first before seq {seq}): events cannot be added behind the chain"), 0


def check_anchor(anchor: Head | None, last: Head, stored_at_anchor: str | None
                 ) -> Break | None:
    """The anchor against a chain that verified up to `last`: a cut tail, an emptied
    trail, or a tail replaced after a cut."""
    if anchor is None:
        return None
    if anchor.seq > last.seq:
        if last.seq == 0:
            return Break(1, f"the trail is empty but its anchor names seq {anchor.seq}: the "
                         "log was emptied")
        return Break(last.seq + 1, f"the trail ends at seq {last.seq} but its anchor names "
                     f"seq {anchor.seq}: the last {anchor.seq - last.seq} event(s) were "
                     "removed (truncated)")
    if stored_at_anchor != anchor.mac:
        return Break(anchor.seq, "the event here is not the one anchored: the trail was cut "
                     "and appended to again, or rewritten from here on")
    return None


def verify_rows(key: bytes, store_id: str, rows: Iterable[ChainRow]
                ) -> tuple[Break | None, Head]:
    """The whole chain from its genesis: the first break and the last good head."""
    brk, seq, mac = find_break(key, genesis_mac(key, store_id), 0, rows)
    return brk, Head(seq, mac)
