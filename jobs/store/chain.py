"""The audit chain, pure: how an event is MAC'd and how a run of events is checked.

Each event carries a sequence number (1, 2, ... per store, no gaps) and
MAC = HMAC-SHA256(audit key, prev_mac || canonical JSON of the event, seq included); the
first event's prev_mac is HMAC(audit key, "genesis" || store id), so a chain copied from
another store, or recomputed with plain SHA-256 or another key, does not verify. Nothing
here reads a file or a database: jobs.store.trail feeds it rows and the anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Break", "ChainRow", "canonical", "event_mac", "find_break", "genesis_mac"]

_WINDOW = 16  # rows looked at to tell a reorder or an insert from an edit


@dataclass(frozen=True)
class ChainRow:
    """One stored event as the chain sees it (detail: the stored JSON text)."""

    seq: int
    at: datetime
    campaign_id: str | None
    kind: str
    detail: str
    mac: str


@dataclass(frozen=True)
class Break:
    """Where the trail stops verifying: the first bad sequence number and what is wrong."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.problem}"


def canonical(seq: int, at: datetime, campaign_id: str | None, kind: str, detail: str) -> bytes:
    """The bytes an event's MAC covers: sorted-key JSON, ASCII, no spaces."""
    return json.dumps({"seq": seq, "at": at.isoformat(timespec="microseconds"),
                       "campaign": campaign_id, "kind": kind, "detail": detail},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_mac(key: bytes, prev_mac: str, seq: int, at: datetime, campaign_id: str | None,
              kind: str, detail: str) -> str:
    """HMAC-SHA256(key, prev_mac || canonical event), hex."""
    body = prev_mac.encode() + canonical(seq, at, campaign_id, kind, detail)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def genesis_mac(key: bytes, store_id: str) -> str:
    """The prev_mac of a store's first event."""
    return hmac.new(key, b"lungscreen audit genesis " + store_id.encode(),
                    hashlib.sha256).hexdigest()


def _mac_of(key: bytes, prev: str, row: ChainRow, seq: int | None = None) -> str:
    return event_mac(key, prev, row.seq if seq is None else seq, row.at, row.campaign_id,
                     row.kind, row.detail)


def _ok(key: bytes, prev: str, row: ChainRow, seq: int | None = None) -> bool:
    return hmac.compare_digest(_mac_of(key, prev, row, seq), row.mac)


def find_break(key: bytes, start_mac: str, start_seq: int, rows: Iterable[ChainRow]
               ) -> tuple[Break | None, int, str]:
    """Check `rows` (ordered by seq) as the chain that follows (start_seq, start_mac).

    Returns (the first break or None, the last good seq, its MAC). A break names what
    is wrong: a missing seq (removed), an edited event, events moved (reordered), an event
    inserted with the later ones renumbered, or MACs that no longer verify from some seq
    on (recomputed without the key, or another key)."""
    prev_seq, prev_mac = start_seq, start_mac
    it = iter(rows)
    for row in it:
        expected = prev_seq + 1
        if row.seq != expected:
            return _gap(expected, row), prev_seq, prev_mac
        if _ok(key, prev_mac, row):
            prev_seq, prev_mac = row.seq, row.mac
            continue
        window = [row, *_take(it, _WINDOW)]
        return Break(row.seq, _diagnose(key, prev_mac, window)), prev_seq, prev_mac
    return None, prev_seq, prev_mac


def _gap(expected: int, row: ChainRow) -> Break:
    if row.seq > expected:
        missing = (f"seq {expected}" if row.seq == expected + 1
                   else f"seqs {expected}..{row.seq - 1}")
        return Break(expected, f"{missing} missing before seq {row.seq}: events were removed")
    return Break(expected, f"seq {row.seq} found where seq {expected} belongs: events were "
                 "reordered or duplicated")


def _diagnose(key: bytes, prev_mac: str, window: Sequence[ChainRow]) -> str:
    bad, rest = window[0], window[1:]
    nxt = rest[0] if rest else None
    if nxt is not None and _ok(key, bad.mac, nxt):
        return ("the event was edited: its content no longer matches its MAC (the events "
                "after it still chain to it)")
    seqs = [r.seq for r in window]
    for other in rest:  # this event chains to a later one: the events were moved
        for seq in seqs:
            if _ok(key, other.mac, bad, seq + 1) or _ok(key, other.mac, bad, seq):
                return (f"events were reordered: the event stored at seq {bad.seq} follows "
                        f"the event stored at seq {other.seq}")
    if nxt is not None and _ok(key, prev_mac, nxt, bad.seq):
        return (f"an event was inserted at seq {bad.seq}: the event now at seq {nxt.seq} "
                f"is the true seq {bad.seq} (the later events were renumbered)")
    if nxt is not None and _ok(key, bad.mac, nxt, nxt.seq + 1):
        return (f"an event before seq {bad.seq} was removed and the later events "
                "renumbered")
    if nxt is None:
        return ("its MAC does not verify under the audit key: the event was edited or "
                "forged")
    return ("its MAC and those after it do not verify under the audit key: the chain was "
            "recomputed without the key (plain hashes or another key), or this is not the "
            "key the store was written with")


def _take(it: Iterator[ChainRow], n: int) -> list[ChainRow]:
    out: list[ChainRow] = []
    for row in it:
        out.append(row)
        if len(out) == n:
            break
    return out
