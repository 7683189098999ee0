"""Ages reduced to 5-year bands, so no birth date or exact age leaves ingest.

Bands follow HIPAA Safe Harbor: ages of 90 and over are one band, "90+". The screening
population is 50-80, so everything under 50 is one band too, "<50". Unknown age is
"unknown" (counted, never guessed).
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["AGE_BANDS", "UNKNOWN", "age_band", "age_from_header", "parse_da"]

UNKNOWN = "unknown"
AGE_BANDS: tuple[str, ...] = (
    "<50",
    *(f"{lo}-{lo + 4}" for lo in range(50, 90, 5)),
    "90+",
    UNKNOWN,
)

_AS = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}
_MAX_AGE = 150


def age_band(age_years: int | None) -> str:
    """The band of an age in whole years: "<50", "50-54", ..., "85-89", "90+", or "unknown"."""
    if age_years is None or age_years < 0 or age_years > _MAX_AGE:
        return UNKNOWN
    if age_years < 50:
        return "<50"
    if age_years >= 90:
        return "90+"
    lo = age_years - age_years % 5
    return f"{lo}-{lo + 4}"


def age_from_header(
    patient_age: str | None,
    birth_date: str | date | None,
    study_date: str | date | None,
) -> int | None:
    """Age in whole years at the study, from PatientAge (AS, e.g. "063Y", "006M", "012W",
    "003D") or else from PatientBirthDate and StudyDate (DA, "YYYYMMDD").

    Returns None when neither gives a plausible age (0-150 years); never raises on bad input.
    """
    if patient_age:
        m = _AS.match(str(patient_age))
        if m:
            days = int(m.group(1)) * _DAYS_PER_UNIT[m.group(2).upper()]
            years = int(days // 365.25) if m.group(2).upper() != "Y" else int(m.group(1))
            if 0 <= years <= _MAX_AGE:
                return years
    born = parse_da(birth_date)
    seen = parse_da(study_date)
    if born is None or seen is None or seen < born:
        return None
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return years if years <= _MAX_AGE else None


def parse_da(value: str | date | None) -> date | None:
    """A DICOM DA value ("YYYYMMDD") as a date; None when absent or not a valid date."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
