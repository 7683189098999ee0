"""Ingest: sources, DICOM headers, discovery, series selection, volumes, privacy.

The stage that sees PHI: `intake.take_in` discovers each region's studies, selects one axial
CT series per study (or a quarantine reason), and minimises each to a `StudyRecord` of
pseudonyms (`privacy`). Nothing that identifies a patient leaves this package. Its steps one
by one: `discover`, `select_series` (under a `Policy`) and `load_volume`.
"""

from typing import TYPE_CHECKING

from jobs.ingest.discovery import discover
from jobs.ingest.intake import Intake, take_in
from jobs.ingest.selection import Policy, Selected, select_series
from kernel.faces import lazy_names

if TYPE_CHECKING:
    from jobs.ingest.volume import load_volume

# the pixel decoder: off `import jobs`
__getattr__ = lazy_names(__name__, {"load_volume": "volume"})

__all__ = [
    "Intake",
    "Policy",
    "Selected",
    "discover",
    "load_volume",
    "select_series",
    "take_in",
]
