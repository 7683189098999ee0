"""A synthetic cohort folder's studies as evaluation cases, read through the ingest path.

The model's evaluation tools (models.tooling) take cases; this module is where a cohort
written as DICOM is turned into them, with the same discovery, selection and volume loading
a campaign uses, so an evaluation measures what a campaign would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jobs.ingest.discovery import discover
from jobs.ingest.selection import Selected, select_series
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import load_volume
from kernel.lungrads import Category
from models.tooling.cohort import Case, CohortSkips, cohort_records, truth_nodules

__all__ = ["cohort_cases"]


def cohort_cases(folder: Path, skips: CohortSkips | None = None) -> Iterator[Case]:
    """The evaluable studies of a cohort folder, loaded through the ingest path."""

    records = cohort_records(folder)
    by_study = {str(r["study_uid"]): r for r in records}
    skips = skips if skips is not None else CohortSkips()
    root = folder / "dicom" if (folder / "dicom").is_dir() else folder
    for k, study in enumerate(discover([FolderSource(root)])):
        rec = by_study.get(study.study_uid)
        if rec is None:
            skips.add("no_truth")
            continue
        if not rec.get("expected", {}).get("selected", True):
            skips.add("not_selectable")
            continue
        sel = select_series(study)
        if not isinstance(sel, Selected):
            skips.add("quarantined")
            continue
        if sel.series.series_uid != rec.get("primary_series_uid"):
            skips.add("other_series_selected")
            continue
        vol = load_volume(sel.series.source, sel)
        if list(vol.hu.shape) != list(rec.get("shape", vol.hu.shape)):
            skips.add("shape_differs_from_truth")
            continue
        seed = rec.get("phantom_seed")
        yield Case(f"study-{rec.get('index', k)}", vol.hu, vol.spacing, truth_nodules(rec),
                   Category.parse(str(rec["lung_rads"])),
                   int(seed) if seed is not None else None)
