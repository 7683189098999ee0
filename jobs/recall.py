"""The recall list: who to call back, re-derived from the sources with the pseudonym key.

The results store holds pseudonyms only. For each screened study at or above a Lung-RADS
category, `export_recall` scans the campaign's sources again and matches each study's
pseudonym under the campaign's key (checked against its fingerprint), then writes the
people to the CSV file the authority names, audited first (jobs.reidentify).

Recall follows readers (jobs.review): a study a reader decided is recalled on its
confirmed category (the latest decision), without the nodules the reader rejected, whatever
the AI said; an undecided study on the AI's category, unless `confirmed_only`, which
recalls only studies a reader decided. The technical recall list does not change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.audit_trail import AUDIT_LOG, append_audit, verify_audit_log
from jobs.reidentify import (
    Identified,
    audited_export,
    csv_cell,
    identity,
    match_sources,
    reidentification_key,
    render_csv,
    spec_regions,
)
from jobs.review import apply_confirmed
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category, categorize_nodule
from kernel.records import Outcome, StudyResult

if TYPE_CHECKING:
    from jobs.ingest.privacy import Pseudonymizer
    from jobs.ingest.sources.base import Source
    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = [
    "AUDIT_LOG",
    "RecallEntry",
    "RecallExport",
    "append_audit",
    "csv_cell",
    "due_for_recall",
    "export_recall",
    "find_in_sources",
    "nodule_summary",
    "render_recall_csv",
    "verify_audit_log",
]

log = logging.getLogger("jobs")

_TYPE_NAMES = {NoduleType.SOLID: "solid", NoduleType.PART_SOLID: "part-solid",
               NoduleType.GROUND_GLASS: "ground-glass"}


@dataclass(frozen=True)
class RecallEntry(Identified):
    """One person to call back: who (`Identified`), then what was found. Holds PHI: only the
    recall CSV may carry it."""

    category: str
    nodules: str

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"RecallEntry(<category {self.category}, identifiers hidden>)"


@dataclass(frozen=True)
class RecallExport:
    """What an export did (no PHI): where, how many, and the file's digest."""

    path: Path
    count: int
    not_found: int
    min_category: Category
    sha256: str
    audit_log: Path
    confirmed_only: bool = False


def due_for_recall(results: Iterable[StudyResult], min_category: Category
                   ) -> dict[str, StudyResult]:
    """Screened results at or above `min_category`, by study pseudonym."""
    return {r.study_pid: r for r in results
            if r.outcome is Outcome.SCREENED and r.category is not None
            and r.category.rank >= min_category.rank}


def nodule_summary(nodules: Sequence[Nodule], limit: int = 3) -> str:
    """The most suspicious nodules, e.g. "solid 9.2 mm (4A); part-solid 12.0 mm, solid part
    6.1 mm (4A)"; sizes are mean diameters, rounded as Lung-RADS rounds them."""
    ranked = sorted(nodules, key=lambda n: (-categorize_nodule(n).rank, -n.diameter_mm))
    parts = []
    for n in ranked[:limit]:
        text = f"{_TYPE_NAMES[n.type]} {round(n.diameter_mm, 1):.1f} mm"
        if n.type is NoduleType.PART_SOLID:
            text += f", solid part {round(n.solid_diameter_mm, 1):.1f} mm"
        parts.append(f"{text} ({categorize_nodule(n).value})")
    if len(ranked) > limit:
        parts.append(f"+{len(ranked) - limit} more")
    return "; ".join(parts)


def find_in_sources(due: Mapping[str, StudyResult],
                    regions: Iterable[tuple[str, Sequence[Source]]],
                    pseudonymizer: Pseudonymizer) -> Iterator[RecallEntry]:
    """Scan each region's sources and yield an entry for every study in `due`, once."""
    for result, ds in match_sources(due, regions, pseudonymizer):
        yield RecallEntry(**identity(ds, result),
                          category=result.category.value if result.category else "",
                          nodules=nodule_summary(result.nodules))


def render_recall_csv(entries: Iterable[RecallEntry]) -> tuple[int, bytes]:
    """The recall CSV, most suspicious first, cells escaped; (rows, bytes)."""
    rows = sorted(entries, key=lambda e: (-Category.parse(e.category).rank, e.region, e.site,
                                          e.study_date, e.accession_number))
    return render_csv(RecallEntry, rows)


def export_recall(spec: CampaignSpec, store: ResultsStore, *, min_category: Category,
                  out: Path, operator: str, env: Mapping[str, str],
                  confirmed_only: bool = False) -> RecallExport:
    """Write the recall list of campaign `spec` to `out` and audit the export, on the
    readers' confirmed categories where there are any (see the module doc;
    `confirmed_only`: only the studies a reader decided).

    The key must already exist and be the campaign's (it is never created here: a new key
    would match nobody). BadInput for an unknown campaign, a missing key or another key.
    """
    pseudonymizer = reidentification_key(spec, store, "recall")
    results = apply_confirmed(store.results(spec.id), store.confirmed(spec.id),
                              confirmed_only=confirmed_only)
    due = due_for_recall(results, min_category)
    count, data = render_recall_csv(
        find_in_sources(due, spec_regions(spec, env), pseudonymizer))
    not_found = len(due) - count
    digest, audit_path = audited_export(
        spec, store, kind="recall_export", what="recall", data=data, out=out,
        detail={"operator": operator, "count": count, "not_found": not_found,
                "min_category": min_category.value, "confirmed_only": int(confirmed_only)})
    log.info("recall export: campaign %s, %d studies, %d not found in the sources",
             spec.id, count, not_found)
    return RecallExport(out, count, not_found, min_category, digest, audit_path,
                        confirmed_only)
