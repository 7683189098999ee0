"""The released table of a stored campaign: the base read from the store, then derived
(jobs.release.derive). Reads the base only, never a per-study result."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.release.derive import ReleasedTable, derive_table
from jobs.store import ResultsStore
from kernel.errors import BadInput

__all__ = ["parse_increments", "released_table"]


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
    cells = store.release_base(campaign_id, sorted(wanted))
    return derive_table(campaign_id, by, used, store.measurements(campaign_id), cells)
