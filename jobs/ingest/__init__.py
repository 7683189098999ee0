"""Ingest: sources, DICOM headers, discovery, series selection, volumes, privacy.

The stage that sees PHI: `intake.take_in` discovers each region's studies, selects one axial
CT series per study (or a quarantine reason), and minimises each to a `StudyRecord` of
pseudonyms (`privacy`). Nothing that identifies a patient leaves this package.
"""

from jobs.ingest.intake import Intake, take_in

__all__ = [
    "Intake",
    "take_in",
]
