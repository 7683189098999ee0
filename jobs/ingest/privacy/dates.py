"""Exam dates and screening rounds as they leave ingest: shifted dates, never real ones.

A person's exam dates all move by the same keyed number of days
(`Pseudonymizer.date_shift_days`), as DICOM PS3.15's "Retain Longitudinal Temporal
Information with Modified Dates" option does: the interval between two screens of one person
is exact, and no stored date is the real one. The shift is never under 30 days; the shifted
day is stored as ISO text ("2027-03-14"), "" when the study carries no valid StudyDate.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from jobs.ingest.privacy.age import parse_da

__all__ = ["screening_round", "shifted_day"]

_FIRST_NUMBER = re.compile(r"(\d{1,3})")


def shifted_day(study_date: str | date | None, shift_days: int) -> str:
    """The exam day moved by `shift_days`, as ISO text; "" for a missing or invalid date."""
    seen = parse_da(study_date)
    if seen is None:
        return ""
    try:
        return (seen + timedelta(days=shift_days)).isoformat()
    except OverflowError:  # a date within the shift of year 1 or 9999: not a real exam
        return ""


def screening_round(time_point: str | None) -> int:
    """The screening round a study says it belongs to (ClinicalTrialTimePointID "1", "2",
    "T2", "round 3", ...): its first number, 0 when it names none (not known)."""
    match = _FIRST_NUMBER.search(time_point or "")
    return int(match.group(1)) if match else 0
