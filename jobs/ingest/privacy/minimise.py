"""Minimisation: from a study's slim header fields to a `StudyRecord`, and nothing else.

This is the privacy boundary of the data flow. What goes in holds identifiers (patient id,
study UID, institution, birth date); what comes out holds pseudonyms, a site code, an age
band, a sex code, the exam day shifted by the person's keyed offset (dates.py) and the
screening round, plus geometry the campaign needs. Nothing else survives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from jobs.ingest.privacy.age import age_band, age_from_header
from jobs.ingest.privacy.dates import screening_round, shifted_day
from jobs.ingest.privacy.pseudonyms import Pseudonymizer
from jobs.spec.sources import OTHER_SITE, institution_key
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult

__all__ = ["SEX_CODES", "StudyFields", "StudyHeader", "minimise", "unscreened_result"]

SEX_CODES = ("F", "M", "O", "unknown")


class StudyHeader(Protocol):
    """The header fields minimisation reads (DICOM keywords in brackets). Ingest's study
    objects satisfy it directly or through `StudyFields`."""

    @property
    def patient_id(self) -> str | None: ...  # PatientID
    @property
    def study_uid(self) -> str: ...  # StudyInstanceUID
    @property
    def institution(self) -> str | None: ...  # InstitutionName
    @property
    def patient_age(self) -> str | None: ...  # PatientAge (AS)
    @property
    def birth_date(self) -> str | date | None: ...  # PatientBirthDate (DA)
    @property
    def study_date(self) -> str | date | None: ...  # StudyDate (DA)
    @property
    def sex(self) -> str | None: ...  # PatientSex
    @property
    def time_point(self) -> str | None: ...  # ClinicalTrialTimePointID (screening round)
    @property
    def slice_count(self) -> int: ...  # slices of the selected series
    @property
    def spacing(self) -> tuple[float, float, float]: ...  # (z, y, x) mm, selected series


@dataclass(frozen=True)
class StudyFields:
    """A plain `StudyHeader`. Holds PHI: it must not leave the ingest step."""

    patient_id: str | None
    study_uid: str
    institution: str | None = None
    patient_age: str | None = None
    birth_date: str | date | None = None
    study_date: str | date | None = None
    sex: str | None = None
    time_point: str | None = None
    slice_count: int = 0
    spacing: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"StudyFields(<{self.slice_count} slices, identifiers hidden>)"


def minimise(header: StudyHeader, *, region: str, pseudonymizer: Pseudonymizer,
             sites: Mapping[str, str] | None = None) -> StudyRecord:
    """The `StudyRecord` of one study: pseudonyms, site code, age band, sex, geometry.

    The site is the declared site of the study's institution (`sites`: institution key ->
    code, `RegionSpec.site_of()`), else `other`: never a code made from the free text.

    A study without a PatientID gets a patient pseudonym of its own (derived from its study
    UID), so anonymous studies are not merged into one "patient".
    """
    patient_id = (header.patient_id or "").strip()
    person = patient_id or "\x00no-patient-id\x00" + header.study_uid
    patient_pid = pseudonymizer.patient(person)
    age = age_from_header(header.patient_age, header.birth_date, header.study_date)
    spacing = tuple(float(s) for s in header.spacing)
    return StudyRecord(
        study_pid=pseudonymizer.study(patient_id, header.study_uid),
        patient_pid=patient_pid,
        region=region,
        site=(sites or {}).get(institution_key(header.institution or ""), OTHER_SITE),
        age_band=age_band(age),
        sex=_sex_code(header.sex),
        slice_count=int(header.slice_count),
        spacing=(spacing[0], spacing[1], spacing[2]),
        exam_day=shifted_day(header.study_date, pseudonymizer.date_shift_days(person)),
        screening_round=screening_round(header.time_point),
    )


def unscreened_result(
    record: StudyRecord, reason: Reason, *, model_name: str, model_version: str
) -> StudyResult:
    """The result of a study that ends before inference: opted out (`Reason.OPTED_OUT`) or
    quarantined at selection (any other reason)."""
    outcome = Outcome.OPTED_OUT if reason is Reason.OPTED_OUT else Outcome.QUARANTINED
    return StudyResult.from_record(record, outcome=outcome, model_name=model_name,
                                   model_version=model_version, reason=reason)


def _sex_code(value: str | None) -> str:
    code = (value or "").strip().upper()
    return code if code in ("F", "M", "O") else "unknown"
