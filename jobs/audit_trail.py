"""The audit trail as a whole: the store's keyed, anchored chain (jobs.store.trail) and the
file log that exports keep in the data folder, checked against each other.

The file log (`<data_dir>/audit.log`, JSON lines, owner-only) mirrors the store's export
events: each line carries the seq and MAC of the store event it records. The store's chain
is anchored in the state folder, so a line removed from, edited in, or added to the file
log (or the file emptied) shows as a store export event without its line, or a line
without its event. Exports call `guard_export` before they append: on a broken trail they
refuse, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.store.trail import TrailBroken
from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.store import AuditEvent, ResultsStore

__all__ = ["AUDIT_LOG", "EXPORT_KINDS", "TrailBroken", "TrailVerdict", "append_audit",
           "check_file_log", "event_rows", "guard_export", "verify_audit", "verify_audit_log"]

AUDIT_LOG = "audit.log"
EXPORT_KINDS = ("recall_export", "recall_export_failed", "technical_recall_export",
                "technical_recall_export_failed", "sr_export", "sr_export_failed",
                "sr_stow", "sr_stow_done", "fhir_export", "fhir_export_failed",
                "worklist_export", "worklist_export_failed")
_GENESIS = "0" * 64


@dataclass(frozen=True)
class TrailVerdict:
    """`lungscreen audit verify`'s answer: ok, or the first bad seq and what is wrong."""

    ok: bool
    events: int
    head_seq: int
    first_bad_seq: int | None
    problem: str
    notes: tuple[str, ...] = ()


def append_audit(log_path: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append one JSON line to the file log (created owner-only), chained to the line
    before it by `prev_sha256`; the record carries its store event's seq and MAC."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.seek(0)
        lines = fh.read().splitlines()
        prev = hashlib.sha256(lines[-1]).hexdigest() if lines else _GENESIS
        line = {**record, "prev_sha256": prev}
        fh.write(json.dumps(line, sort_keys=True).encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return line


def verify_audit_log(log_path: Path) -> int:
    """Check the file log's hash chain; the number of lines, or BadInput at the first
    line that does not follow from the one before it. (Unkeyed: `check_file_log` is the
    check that holds against someone who can rewrite the file.)"""
    prev = _GENESIS
    lines = log_path.read_bytes().splitlines()
    for n, raw in enumerate(lines, 1):
        if json.loads(raw).get("prev_sha256") != prev:
            raise BadInput(f"{log_path}: line {n} does not chain to the line before it; "
                           "the audit log was edited or cut")
        prev = hashlib.sha256(raw).hexdigest()
    return len(lines)


def check_file_log(log_path: Path, campaign_id: str, events: Iterable[AuditEvent]
                   ) -> tuple[int, str] | None:
    """The file log against the store's (verified) export events of its campaign: the
    first seq that is missing, extra or altered on either side, and what is wrong."""
    want = {e.seq: e.mac for e in events if e.kind in EXPORT_KINDS and e.seq is not None}
    have: dict[int, str] = {}
    try:
        raw = log_path.read_bytes().splitlines() if log_path.exists() else []
        for n, line in enumerate(raw, 1):
            item = json.loads(line)
            if "seq" not in item or item.get("campaign") != campaign_id:
                continue  # written before the chain: covered by verify_audit_log only
            seq, mac = int(item["seq"]), str(item["mac"])
            if want.get(seq) != mac:
                return seq, (f"{log_path} line {n} names seq {seq}, which is not that export "
                             "event in the store: the line was edited or added")
            have[seq] = mac
    except (ValueError, KeyError, TypeError):
        return min(want, default=0), f"{log_path} is not a JSON-lines audit log: it was edited"
    missing = sorted(set(want) - set(have))
    if missing:
        what = "emptied" if not have else "cut or a line removed"
        return missing[0], (f"{log_path} has no line for the store's export event seq "
                            f"{missing[0]}: the file log was {what}")
    return None


def guard_export(store: ResultsStore, log_path: Path, campaign_id: str) -> None:
    """Before an export appends: the store's trail from its anchor on, and the campaign's
    file log against it. TrailBroken (nothing may be exported) when either is broken;
    OSError when the file log cannot be read."""
    store.verify_head()
    bad = check_file_log(log_path, campaign_id, store.events(campaign_id))
    if bad is not None:
        raise TrailBroken(f"the audit trail is broken at seq {bad[0]}: {bad[1]}; run "
                             "`lungscreen audit verify` and restore it before exporting")


def verify_audit(store: ResultsStore, *, campaign_id: str | None = None,
                 log_path: Path | None = None) -> TrailVerdict:
    """Verify the store's whole chain and anchor (one chain per store, so a campaign's
    events are checked with all the others), then the campaign's file log when given."""
    check = store.verify_trail()
    notes = []
    if check.anchor is None and check.events:
        notes.append("no anchor for this store in this state folder: a cut tail cannot be "
                     "told from a short trail here")
    if check.unsealed:
        notes.append(f"{check.unsealed} event(s) predate the chain; the next append seals "
                     "them into it")
    head = check.head.seq if check.head else 0
    if check.problem is not None:
        return TrailVerdict(False, check.events, head, check.problem.seq,
                            check.problem.problem, tuple(notes))
    if log_path is not None and campaign_id is not None:
        bad = check_file_log(log_path, campaign_id, store.events(campaign_id))
        if bad is not None:
            return TrailVerdict(False, check.events, head, bad[0], bad[1], tuple(notes))
    return TrailVerdict(True, check.events, head, None, "", tuple(notes))


def event_rows(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """Events as plain rows for `audit show` (JSON-ready; no PHI is ever stored)."""
    return [{"seq": e.seq, "at": _iso(e.at), "campaign": e.campaign_id, "kind": e.kind,
             "who": e.detail.get("who") or e.detail.get("operator") or "",
             "detail": e.detail} for e in events]


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
