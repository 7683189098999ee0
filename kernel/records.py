"""Domain records that travel between stages after minimisation. They carry no PHI:
identifiers are pseudonyms (jobs.ingest.privacy), places are region and site codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kernel.contract import Nodule
from kernel.lungrads import Category
from kernel.reasons import Reason

__all__ = ["Outcome", "StudyRecord", "StudyResult"]


class Outcome(StrEnum):
    SCREENED = "screened"
    QUARANTINED = "quarantined"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class StudyRecord:
    """One study as the campaign plans it: pseudonyms and the fields the campaign needs."""

    study_pid: str
    patient_pid: str
    region: str
    site: str
    age_band: str
    sex: str
    slice_count: int = 0
    spacing: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class StudyResult:
    """What the campaign stores for one study: exactly one per (campaign, study, model)."""

    study_pid: str
    patient_pid: str
    region: str
    site: str
    age_band: str
    sex: str
    outcome: Outcome
    model_name: str
    model_version: str
    category: Category | None = None
    reason: Reason | None = None
    nodules: tuple[Nodule, ...] = ()
    # seconds per stage ("load", "infer", "postprocess") for this study
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
