"""Pseudonyms, age bands, opt-out and minimisation."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import asdict, fields
from datetime import date, timedelta
from pathlib import Path

import pytest

from jobs.ingest.privacy import (
    OptOutList,
    Pseudonymizer,
    StudyFields,
    age_band,
    age_from_header,
    minimise,
    unscreened_result,
)
from jobs.ingest.privacy.age import AGE_BANDS
from jobs.spec.sources import RegionSpec
from kernel.errors import BadInput
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord

KEY = bytes(range(32))


def test_pseudonyms_are_keyed_deterministic_and_documented() -> None:
    p = Pseudonymizer(KEY)
    assert p.patient("PID-0001") == Pseudonymizer(bytes(KEY)).patient("PID-0001")
    assert p.patient("PID-0001") != Pseudonymizer(bytes(32)).patient("PID-0001")
    # the documented construction, pinned: changing it would orphan every stored result
    mac = hmac.new(KEY, b"lungscreen/v1/patient", hashlib.sha256)
    mac.update((8).to_bytes(8, "big") + b"PID-0001")
    assert p.patient("PID-0001") == mac.hexdigest()[:20]
    assert len(p.study("PID-0001", "1.2.3")) == 20
    assert all(c in "0123456789abcdef" for c in p.series("1.2.3", "1.2.3.4"))
    assert p.site("north", "General Hospital").startswith("site-")
    assert len(p.site("north", "General Hospital")) == len("site-") + 12


def test_pseudonyms_are_domain_separated_and_unambiguous() -> None:
    p = Pseudonymizer(KEY)
    assert p.study("a", "b") != p.series("a", "b")
    assert p.study("ab", "c") != p.study("a", "bc")
    assert p.site("north", "X") != p.site("south", "X")
    assert p.site("north", "St Mary ") == p.site("north", "ST MARY")
    assert p.patient(" PID-1 ") == p.patient("PID-1")  # DICOM padding does not matter
    assert "PID" not in repr(p) and str(KEY) not in repr(p)


def test_key_fingerprint_is_stable_and_differs_per_key() -> None:
    fp = Pseudonymizer(KEY).fingerprint()
    assert fp == Pseudonymizer(KEY).fingerprint() and len(fp) == 16
    assert fp != Pseudonymizer(bytes(32)).fingerprint()
    assert KEY.hex()[:16] != fp


def test_pseudonymizer_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Pseudonymizer(b"short")


@pytest.mark.parametrize(
    ("age", "band"),
    [(None, "unknown"), (-1, "unknown"), (0, "<50"), (49, "<50"), (50, "50-54"),
     (54, "50-54"), (55, "55-59"), (80, "80-84"), (89, "85-89"), (90, "90+"), (104, "90+"),
     (151, "unknown")],
)  # fmt: skip
def test_age_bands(age: int | None, band: str) -> None:
    assert age_band(age) == band
    assert band in AGE_BANDS


@pytest.mark.parametrize(
    ("patient_age", "birth", "study", "years"),
    [
        ("063Y", None, None, 63),
        ("63Y", None, None, 63),
        ("006M", None, None, 0),
        ("030M", None, None, 2),
        ("104W", None, None, 1),
        ("400D", None, None, 1),
        (None, "19550615", "20260614", 70),
        (None, "19550615", "20260615", 71),
        ("", date(1960, 1, 1), date(2026, 1, 1), 66),
        ("garbage", "19550615", "20260615", 71),  # bad AS falls back to the dates
        ("999Y", None, None, None),
        (None, "2026-01-01", "20260101", None),
        (None, "20300101", "20260101", None),  # born after the study
        (None, "19551350", "20260101", None),  # no 13th month
        (None, None, None, None),
    ],
)
def test_age_from_header(patient_age, birth, study, years) -> None:
    assert age_from_header(patient_age, birth, study) == years


def test_opt_out_list_holds_only_pseudonyms(tmp_path: Path) -> None:
    path = tmp_path / "opt-out.txt"
    path.write_text("# patients who opted out\n\nPID-0001\n  PID-0002  \n#PID-0003\n")
    p = Pseudonymizer(KEY)
    opt = OptOutList.load(path, p)
    assert len(opt) == 2
    assert opt.is_opted_out("PID-0001") and opt.is_opted_out("PID-0002 ")
    assert not opt.is_opted_out("PID-0003") and not opt.is_opted_out(None)
    assert opt.is_opted_out_pid(p.patient("PID-0002"))
    held = repr(opt) + repr(vars(opt) if hasattr(opt, "__dict__") else opt._pids)
    assert "PID-000" not in held
    assert len(OptOutList.load(None, p)) == 0


def test_opt_out_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"privacy.opt_out: cannot read .*missing.txt"):
        OptOutList.load(tmp_path / "missing.txt", Pseudonymizer(KEY))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadInput, match="not UTF-8"):
        OptOutList.load(binary, Pseudonymizer(KEY))


PHI = StudyFields(
    patient_id="MRN-778899",
    study_uid="1.2.840.99999.1.2.3",
    institution="St Canary Hospital",
    patient_age=None,
    birth_date="19470312",
    study_date="20260115",
    sex="f",
    slice_count=240,
    spacing=(1.25, 0.7, 0.7),
    time_point="round 2",
)


def test_the_site_is_the_declared_one_else_other() -> None:
    """Sites come from the spec's declaration: case and spacing of the free text do not
    matter, and an institution no site declares is `other`, never a code of its own."""
    p = Pseudonymizer(KEY)
    sites = RegionSpec.model_validate({
        "name": "north", "sources": [{"dicomweb": {"url": "https://pacs.example/dicom-web"}}],
        "sites": [{"name": "canary-general", "institutions": ["St Canary  Hospital"]}],
    }).site_of()
    for institution, want in (("st canary hospital ", "canary-general"),
                              ("St Canary Hosp.", "other"), (None, "other")):
        fields = dataclasses.replace(PHI, institution=institution)
        assert minimise(fields, region="north", pseudonymizer=p, sites=sites).site == want


def test_minimise_keeps_only_pseudonyms_and_needed_fields() -> None:
    p = Pseudonymizer(KEY)
    rec = minimise(PHI, region="north", pseudonymizer=p,
                   sites={"ST CANARY HOSPITAL": "canary-general"})
    assert rec == StudyRecord(
        study_pid=p.study("MRN-778899", "1.2.840.99999.1.2.3"),
        patient_pid=p.patient("MRN-778899"),
        region="north",
        site="canary-general",
        age_band="75-79",
        sex="F",
        slice_count=240,
        spacing=(1.25, 0.7, 0.7),
        exam_day=(date(2026, 1, 15) + timedelta(days=p.date_shift_days("MRN-778899")))
        .isoformat(),
        screening_round=2,
    )
    text = repr(rec) + repr(asdict(rec))
    for secret in ("MRN-778899", "1.2.840.99999", "Canary", "CANARY", "1947", "20260115",
                   "2026-01-15"):
        assert secret not in text
    assert "MRN" not in repr(PHI) and "Canary" not in repr(PHI)
    assert {f.name for f in fields(StudyRecord)} == {
        "study_pid", "patient_pid", "region", "site", "age_band", "sex", "slice_count",
        "spacing", "exam_day", "screening_round",
    }  # fmt: skip


def test_minimise_without_patient_id_keeps_studies_apart() -> None:
    p = Pseudonymizer(KEY)
    a = minimise(StudyFields(None, "1.2.3"), region="north", pseudonymizer=p)
    b = minimise(StudyFields("  ", "1.2.4"), region="north", pseudonymizer=p)
    assert a.patient_pid != b.patient_pid
    assert (a.age_band, a.sex) == ("unknown", "unknown")


def test_unscreened_results() -> None:
    rec = minimise(PHI, region="north", pseudonymizer=Pseudonymizer(KEY))
    out = unscreened_result(rec, Reason.OPTED_OUT, model_name="m", model_version="1")
    assert (out.outcome, out.reason, out.category) == (Outcome.OPTED_OUT, Reason.OPTED_OUT, None)
    q = unscreened_result(rec, Reason.SLICE_GAP, model_name="m", model_version="1")
    assert (q.outcome, q.study_pid, q.age_band) == (Outcome.QUARANTINED, rec.study_pid, "75-79")
