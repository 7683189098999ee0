"""The released table of a stored campaign: the base read from the store, then derived
(jobs.release.derive). Reads the base only, never a per-study result.

The base of a set of increments is parsed once per process and kept (a few sets, most
recent first) for the tables asked of it next: keyed by the store, the campaign and the
increments' records, so a new increment, or another store at the same address, is another
key. The base is append-only, so a kept one never goes stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from jobs.release.derive import ParsedBase, ReleasedTable, derive_parsed, parse_base
from jobs.store import ResultsStore
from jobs.store.release import ReleaseIncrement
from kernel.errors import BadInput

__all__ = ["clear_parsed", "parse_increments", "released_table"]

_KEPT = 16
_Key = tuple[str, str, tuple[ReleaseIncrement, ...]]
_parsed: OrderedDict[_Key, ParsedBase] = OrderedDict()
_lock = threading.Lock()


def parse_increments(text: str | None) -> tuple[int, ...] | None:
    """`--increments 1,2,5` as sequence numbers (None: every increment)."""
    if text is None:
        return None
    try:
        seqs = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise BadInput(f"--increments {text[:40]!r}: expected increment numbers, "
                       "comma-separated (e.g. 1,2,3)") from None
    if not seqs:
        raise BadInput("--increments: name at least one increment (e.g. 1)")
    return seqs


def clear_parsed() -> None:
    """Forget every parsed base kept in this process."""
    with _lock:
        _parsed.clear()


def _base(store: ResultsStore, campaign_id: str, used: list[ReleaseIncrement]) -> ParsedBase:
    key = (store.url, campaign_id, tuple(used))
    with _lock:
        if key in _parsed:
            _parsed.move_to_end(key)
            return _parsed[key]
    cells = store.release_base(campaign_id, [i.seq for i in used])
    base = parse_base(used, store.measurements(campaign_id), cells)
    with _lock:
        _parsed[key] = base
        while len(_parsed) > _KEPT:
            _parsed.popitem(last=False)
    return base


def released_table(store: ResultsStore, campaign_id: str, *, by: Sequence[str] = ("region",),
                   increments: Sequence[int] | None = None) -> ReleasedTable:
    """The table of `by` over the given increments (default: all of them) from the base.
    BadInput for an unknown campaign, one not yet measured, or an unknown increment."""
    if store.campaign(campaign_id) is None:
        known = ", ".join(c.id for c in store.campaigns()) or "none"
        raise BadInput(f"unknown campaign {campaign_id!r}; the store holds: {known}")
    held = store.increments(campaign_id)
    if not held:
        raise BadInput(f"campaign {campaign_id!r} has no released increment yet: run "
                       f"`lungscreen release measure {campaign_id}` first")
    wanted = {i.seq for i in held} if increments is None else set(increments)
    unknown = sorted(wanted - {i.seq for i in held})
    if unknown:
        raise BadInput(f"campaign {campaign_id!r} has no increment {unknown}; it has "
                       f"1 to {held[-1].seq}")
    used = [i for i in held if i.seq in wanted]
    return derive_parsed(campaign_id, by, _base(store, campaign_id, used))
