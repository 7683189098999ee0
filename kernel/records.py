"""Domain records that travel between stages after minimisation. They carry no PHI:
identifiers are pseudonyms (jobs.ingest.privacy), places are region and site codes.

A study's record (what the campaign plans) and its result (what the campaign stores) share
`StudyFacts`: the pseudonyms and the fields results are grouped by (`DIMENSIONS`). A field
both carry is declared there once; `StudyResult.from_record` copies them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum

from kernel.contract import Nodule
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.rounds import RoundReading

__all__ = ["DIMENSIONS", "Outcome", "StudyFacts", "StudyRecord", "StudyResult"]


class Outcome(StrEnum):
    SCREENED = "screened"
    QUARANTINED = "quarantined"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class StudyFacts:
    """What a study's record and its result share: its pseudonyms and the fields results are
    grouped by.

    A field added here later takes a default and `field(kw_only=True)`, so that the records'
    positional order (these fields, then each record's own) stays as it is. A new grouping
    dimension is such a field plus its name in `DIMENSIONS` (then minimise computes it and
    the store keeps it: jobs.ingest.privacy.minimise, jobs.store.schema).
    """

    study_pid: str
    patient_pid: str
    region: str
    site: str
    age_band: str
    sex: str
    # the exam day shifted by the person's keyed offset (ISO, "" unknown) and the screening
    # round the study says it is (0 unknown): jobs.ingest.privacy.dates
    exam_day: str = field(default="", kw_only=True)
    screening_round: int = field(default=0, kw_only=True)


DIMENSIONS: tuple[str, ...] = ("region", "site", "age_band", "sex")
"""The fields of `StudyFacts` results can be grouped by, in the order reports list them."""

_FACTS = tuple(f.name for f in fields(StudyFacts))


@dataclass(frozen=True)
class StudyRecord(StudyFacts):
    """One study as the campaign plans it: pseudonyms and the fields the campaign needs."""

    slice_count: int = 0
    spacing: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class StudyResult(StudyFacts):
    """What the campaign stores for one study: exactly one per (campaign, study, model)."""

    outcome: Outcome
    model_name: str
    model_version: str
    category: Category | None = None
    reason: Reason | None = None
    nodules: tuple[Nodule, ...] = ()
    # the screen read against the person's prior (kernel.rounds); None: not read (quarantined)
    reading: RoundReading | None = None
    # seconds per stage ("load", "infer", "postprocess") for this study
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_record(
        cls, record: StudyFacts, *, outcome: Outcome, model_name: str, model_version: str,
        category: Category | None = None, reason: Reason | None = None,
        nodules: tuple[Nodule, ...] = (), timings: dict[str, float] | None = None,
        reading: RoundReading | None = None,
    ) -> StudyResult:
        """The result of the study `record` plans: its `StudyFacts` as they are, and the
        outcome of screening it."""
        return cls(**{name: getattr(record, name) for name in _FACTS},
                   outcome=outcome, model_name=model_name, model_version=model_version,
                   category=category, reason=reason, nodules=nodules, reading=reading,
                   timings={} if timings is None else timings)
