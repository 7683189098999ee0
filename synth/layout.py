"""Where a study's files go: each site's archive has its own folder convention.

Layouts (by `Site.layout`), under `<dicom root>/<region>/<site>/`:

0. `<PatientID>/<StudyDate>_<Accession>/SE<n>/<instance>.dcm`
1. `ST<study index>/SE<nnnn>/IM<nnnnn>` (no file extension)
2. `<YYYY>/<MM>/<Accession>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`
3. `<Accession>/<series>_<instance>.dcm` (every series in one folder)

Discovery must not rely on any of them (it groups by UIDs from the headers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.dicom_writer import SeriesInfo
from synth.plan import StudyPlan

__all__ = ["Layout"]


class Layout:
    """Paths for one study's files under the DICOM root."""

    def __init__(self, root: Path, plan: StudyPlan, rng: np.random.Generator) -> None:
        self.root = root
        self.plan = plan
        ident = plan.identity
        site_dir = root / plan.site.region / plan.site.name
        kind = plan.site.layout
        if kind == 0:
            study = f"{ident.StudyDate}_{ident.AccessionNumber}"
            self.study_dir = site_dir / ident.PatientID / study
        elif kind == 1:
            self.study_dir = site_dir / f"ST{plan.index:06d}"
        elif kind == 2:
            date = ident.StudyDate
            self.study_dir = site_dir / date[:4] / date[4:6] / ident.AccessionNumber
        else:
            self.study_dir = site_dir / ident.AccessionNumber

    def second_folder(self) -> str:
        """Folder name (sibling of the study folder) for the second half of a split study."""
        return f"{self.study_dir.name}_2"

    def file(self, series: SeriesInfo, instance: int, *, folder: str | None = None) -> Path:
        """The path of one slice file."""
        base = self.study_dir if folder is None else self.study_dir.parent / folder
        kind = self.plan.site.layout
        if kind == 0:
            return base / f"SE{series.number}" / f"{instance}.dcm"
        if kind == 1:
            return base / f"SE{series.number:04d}" / f"IM{instance:05d}"
        if kind == 2:
            return base / series.series_uid / f"{series.series_uid}.{instance}.dcm"
        return base / f"{series.number}_{instance:04d}.dcm"

    def junk_file(self, rng: np.random.Generator) -> Path:
        """Write a file that is not DICOM into the study folder; returns its path."""
        choice = int(rng.integers(3))
        self.study_dir.mkdir(parents=True, exist_ok=True)
        if choice == 0:
            path = self.study_dir / "Thumbs.db"
            path.write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
        elif choice == 1:
            path = self.study_dir / "notes.txt"
            path.write_text("exported from PACS; see worklist\n", encoding="utf-8")
        else:
            path = self.study_dir / "preview.jpg"
            path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(rng.integers(0, 256, 2048,
                                                                                  dtype=np.uint8)))
        return path

    def rel(self, path: Path) -> str:
        """`path` relative to the cohort folder (the DICOM root's parent), with '/'."""
        return path.relative_to(self.root.parent).as_posix()
