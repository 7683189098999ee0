"""Fake but realistic identities for synthetic studies: every PHI field filled.

All values are drawn from a seeded generator (no clock, no real registry). In canary mode
every free-text PHI value carries a unique token `CANARY-<code>-<n>` (a short
field code, as SH values hold 16 characters) so a privacy test can
search everything the project wrote for it; dates stay valid dates and are listed too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PERSON_FIELDS", "PHI_FIELDS", "Identity", "Site", "make_identity", "make_sites",
           "next_identity"]

_MALE = ("James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph",
         "Thomas", "Charles", "Peter", "Alan", "Brian", "Kenneth", "George", "Edward", "Ronald",
         "Anthony", "Kevin", "Jason", "Ahmed", "Luis", "Piotr", "Marco", "Hiroshi", "Olu")
_FEMALE = ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
           "Sarah", "Karen", "Nancy", "Margaret", "Sandra", "Ruth", "Carol", "Janet", "Helen",
           "Anne", "Maria", "Fatima", "Agnieszka", "Giulia", "Yuki", "Amara", "Ingrid", "Rosa")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
         "Taylor", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright",
         "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
         "Carter", "Phillips", "Evans", "Turner", "Kowalski", "Rossi", "Okafor", "Tanaka",
         "Nowak", "Haddad", "Larsen", "Fischer", "Moreau", "Silva")
_STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue",
            "Victoria Road", "Green Lane", "Manor Way", "Queens Drive", "Orchard Close",
            "Meadow View", "Bridge Street", "Elm Grove", "Kings Road", "Harbour Walk")
_TOWNS = {
    "north": ("Northam", "Greyford", "Hollowmere", "Kettleby"),
    "south": ("Southwick", "Bramley Cross", "Sandhurst Vale", "Marlow Bay"),
    "east": ("Eastleigh", "Fenwick", "Ashby Marsh", "Coldharbour"),
    "west": ("Westbury", "Penrith Hill", "Oakmoor", "Redcliff"),
    "central": ("Midford", "Castleton", "Linford", "Stanway"),
    "coast": ("Saltmouth", "Gullhaven", "Tidewell", "Shellbay"),
}
_KINDS = ("General Hospital", "Royal Infirmary", "Community Hospital", "Imaging Centre",
          "University Hospital", "Chest Clinic")

# Free-text PHI fields (canary tokens go into each) and date PHI fields.
PHI_FIELDS = ("PatientName", "PatientID", "OtherPatientIDs", "PatientAddress",
              "PatientTelephoneNumbers", "AccessionNumber", "StudyID", "InstitutionName",
              "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
              "OperatorsName", "StationName", "DeviceSerialNumber")
DATE_FIELDS = ("PatientBirthDate", "StudyDate")


@dataclass(frozen=True)
class Site:
    """An imaging site of a region: where studies are acquired."""

    region: str
    name: str  # folder-safe short name, e.g. "north-2"
    institution: str
    address: str
    station_prefix: str
    id_prefix: str  # patient ids issued here look like "<prefix>1234567"
    layout: int  # which folder layout this site's archive uses


@dataclass(frozen=True)
class Identity:
    """One patient's identifiers for one study; every field is PHI except age and sex."""

    PatientName: str
    PatientID: str
    OtherPatientIDs: str
    PatientAddress: str
    PatientTelephoneNumbers: str
    AccessionNumber: str
    StudyID: str
    InstitutionName: str
    InstitutionAddress: str
    ReferringPhysicianName: str
    PerformingPhysicianName: str
    OperatorsName: str
    StationName: str
    DeviceSerialNumber: str
    PatientBirthDate: str  # YYYYMMDD
    StudyDate: str  # YYYYMMDD
    StudyTime: str  # HHMMSS
    age: int
    sex: str  # "M" | "F"

    def phi(self) -> dict[str, str]:
        """Every PHI value by DICOM keyword."""
        d = asdict(self)
        return {k: str(d[k]) for k in (*PHI_FIELDS, *DATE_FIELDS)}


def _town(rng: np.random.Generator, region: str) -> str:
    towns = _TOWNS.get(region.split("-")[0], _TOWNS["central"])
    return str(towns[int(rng.integers(len(towns)))])


def _pick(rng: np.random.Generator, seq: tuple[str, ...]) -> str:
    return str(seq[int(rng.integers(len(seq)))])


def make_sites(rng: np.random.Generator, region: str, count: int) -> tuple[Site, ...]:
    """`count` sites of `region`, each with its own institution, id style and layout."""
    sites = []
    for k in range(count):
        town = _town(rng, region)
        sites.append(Site(
            region=region,
            name=f"{region}-{k + 1}",
            institution=f"{town} {_pick(rng, _KINDS)}",
            address=f"{int(rng.integers(1, 400))} {_pick(rng, _STREETS)}, {town}",
            station_prefix=f"CT{town[:3].upper()}",
            id_prefix=f"{region[:1].upper()}{k + 1}",
            layout=int(rng.integers(4)),
        ))
    return tuple(sites)


def _person(rng: np.random.Generator, sex: str) -> tuple[str, str]:
    first = _pick(rng, _MALE if sex == "M" else _FEMALE)
    return _pick(rng, _LAST), first


def _staff(rng: np.random.Generator) -> tuple[tuple[str, str], ...]:
    """The study's referring, performing and operating staff (last, first)."""
    return (_person(rng, "M" if rng.uniform() < 0.5 else "F"), _person(rng, "F"),
            _person(rng, "M" if rng.uniform() < 0.5 else "F"))


def _study_fields(rng: np.random.Generator, site: Site, study_day: dt.date,
                  staff: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The study's own identifying fields (a later round draws them anew)."""
    (ref_last, ref_first), (perf_last, perf_first), (op_last, op_first) = staff
    return {
        "AccessionNumber": f"A{study_day:%y}{int(rng.integers(10**6, 10**7))}",
        "StudyID": f"{int(rng.integers(1000, 99999))}",
        "InstitutionName": site.institution,
        "InstitutionAddress": site.address,
        "ReferringPhysicianName": f"{ref_last}^{ref_first}^^Dr",
        "PerformingPhysicianName": f"{perf_last}^{perf_first}",
        "OperatorsName": f"{op_last}^{op_first}",
        "StationName": f"{site.station_prefix}{int(rng.integers(1, 4))}",
        "DeviceSerialNumber": f"{int(rng.integers(10**5, 10**6))}",
    }


def make_identity(rng: np.random.Generator, site: Site, index: int, *,
                  canary: bool = False, cohort_round: int = 1,
                  study_day: dt.date | None = None) -> Identity:
    """A patient aged 50-80 with a study at `site` (on `study_day`, or a day drawn in
    2024-2026); `index` and `cohort_round` make canary tokens unique."""
    sex = "M" if rng.uniform() < 0.55 else "F"
    age = int(rng.integers(50, 81))
    drawn_day = dt.date(2024, 1, 2) + dt.timedelta(days=int(rng.integers(0, 900)))
    study_day = study_day or drawn_day
    birthday = study_day - dt.timedelta(days=int(age * 365.25 + rng.integers(1, 360)))
    last, first = _person(rng, sex)
    staff = _staff(rng)
    town = site.address.split(", ")[-1]
    values = {
        "PatientName": f"{last}^{first}^{_pick(rng, tuple('ABCDEFGHJKLMNPRSTW'))}",
        "PatientID": f"{site.id_prefix}{int(rng.integers(10**6, 10**7))}",
        "OtherPatientIDs": f"NHS{int(rng.integers(10**9, 10**10))}",
        "PatientAddress": f"{int(rng.integers(1, 250))} {_pick(rng, _STREETS)}, {town}",
        "PatientTelephoneNumbers": f"0{rng.integers(1000, 2000)} {rng.integers(10**5, 10**6)}",
        **_study_fields(rng, site, study_day, staff),
    }
    if canary:
        values = {k: _canary(k, _token(index, cohort_round), v) for k, v in values.items()}
    return Identity(**values, PatientBirthDate=f"{birthday:%Y%m%d}",
                    StudyDate=f"{study_day:%Y%m%d}",
                    StudyTime=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(60)):02d}00",
                    age=age, sex=sex)


# what stays with the person from one screening round to the next (the rest is the study's)
PERSON_FIELDS = ("PatientName", "PatientID", "OtherPatientIDs", "PatientAddress",
                 "PatientTelephoneNumbers", "PatientBirthDate", "sex")


def next_identity(rng: np.random.Generator, prior: Identity, site: Site, index: int,
                  study_day: dt.date, *, canary: bool = False,
                  cohort_round: int = 2) -> Identity:
    """The same person's identity for a later study at `site` on `study_day`: their own
    fields (PERSON_FIELDS) as before, the study's (accession, staff, station...) new, the
    age from the birth date; in canary mode the study's fields carry new tokens."""
    born = dt.datetime.strptime(prior.PatientBirthDate, "%Y%m%d").date()
    age = study_day.year - born.year - ((study_day.month, study_day.day) < (born.month, born.day))
    study = _study_fields(rng, site, study_day, _staff(rng))
    if canary:
        study = {k: _canary(k, _token(index, cohort_round), v) for k, v in study.items()}
    return dataclasses.replace(
        prior, **study, StudyDate=f"{study_day:%Y%m%d}",
        StudyTime=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(60)):02d}00", age=age)


def _token(index: int, cohort_round: int) -> str:
    """A canary token's number: the study index, after the round from the second round on
    (16 characters at most in the longest SH token up to round 9 and study 9999)."""
    return f"{index:04d}" if cohort_round == 1 else f"{cohort_round}{index:04d}"


# short field codes: SH values (accession, station, telephone, study id) hold 16 characters
_CODES = {"PatientName": "PN", "PatientID": "PID", "OtherPatientIDs": "OID",
          "PatientAddress": "PA", "PatientTelephoneNumbers": "TEL", "AccessionNumber": "AN",
          "StudyID": "SID", "InstitutionName": "IN", "InstitutionAddress": "IA",
          "ReferringPhysicianName": "RP", "PerformingPhysicianName": "PP",
          "OperatorsName": "OP", "StationName": "ST", "DeviceSerialNumber": "DSN"}


def _canary(field: str, number: str, value: str) -> str:
    token = f"CANARY-{_CODES[field]}-{number}"
    if "^" in value:  # person name: keep it a valid PN (the token in the family name)
        return token + value[value.index("^"):]
    return token
