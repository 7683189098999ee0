"""Exam dates leave ingest shifted by a keyed per-person offset (PS3.15's modified dates):
the same person moves by the same days in every campaign of one key, intervals stay exact,
no stored day is the real one, and another key moves them differently."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from jobs.ingest.privacy import Pseudonymizer, StudyFields, minimise
from jobs.ingest.privacy.dates import screening_round, shifted_day
from jobs.ingest.privacy.pseudonyms import DATE_SHIFT_DAYS

KEY = b"k" * 32
FIRST = StudyFields(patient_id="MRN-1", study_uid="1.2.3.1", study_date="20250110",
                    time_point="1")
SECOND = dataclasses.replace(FIRST, study_uid="1.2.3.2", study_date="20260310", time_point="2")


def test_intervals_are_exact_and_no_day_is_real():
    p = Pseudonymizer(KEY)
    a, b = (minimise(s, region="north", pseudonymizer=p) for s in (FIRST, SECOND))
    assert a.patient_pid == b.patient_pid
    days = (date.fromisoformat(b.exam_day) - date.fromisoformat(a.exam_day)).days
    assert days == (date(2026, 3, 10) - date(2025, 1, 10)).days
    assert a.exam_day != "2025-01-10" and b.exam_day != "2026-03-10"
    assert (a.screening_round, b.screening_round) == (1, 2)


def test_the_shift_is_keyed_per_person_and_never_small():
    p, other = Pseudonymizer(KEY), Pseudonymizer(b"q" * 32)
    shifts = [p.date_shift_days(f"MRN-{i}") for i in range(400)]
    low, high = DATE_SHIFT_DAYS
    assert all(low <= abs(s) <= high for s in shifts)
    assert min(shifts) < 0 < max(shifts)  # both ways
    assert len(set(shifts)) > 300  # per person, not one offset for everyone
    assert shifts[0] == Pseudonymizer(KEY).date_shift_days("MRN-0")  # stable under the key
    assert sum(other.date_shift_days(f"MRN-{i}") == s for i, s in enumerate(shifts)) < 10


@pytest.mark.parametrize(("value", "expected"), [
    ("20250110", "2025-01-20"), (None, ""), ("", ""), ("2025-01-10", ""), ("20251340", ""),
    (date(2025, 1, 10), "2025-01-20"), ("00010101", ""),
])
def test_shifted_day(value, expected):
    shift = -40 if value == "00010101" else 10
    assert shifted_day(value, shift) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("2", 2), ("T3", 3), ("round 2", 2), (None, 0), ("", 0), ("baseline", 0),
])
def test_screening_round(text, expected):
    assert screening_round(text) == expected


def test_a_study_without_a_patient_id_still_gets_a_shifted_day():
    p = Pseudonymizer(KEY)
    rec = minimise(dataclasses.replace(FIRST, patient_id=None), region="north", pseudonymizer=p)
    assert rec.exam_day and rec.exam_day != "2025-01-10"
