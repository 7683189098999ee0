"""A reader's confirmed decision makes the study's DICOM SR VERIFIED (jobs.clinical.sr's
`verification`, looked up by the SR export): the reader as VerifyingObserver at the
decision's time, the confirmed category, rejected nodules left out. Parsed back with
highdicom; set-ups shared with tests/test_clinical_sr.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import highdicom as hd

from jobs.clinical import build_sr
from jobs.clinical.sr import LUNG_RADS, ReaderVerification, SrIdentity, category_code, sr_uid
from jobs.review import decide, draw_worklist
from jobs.store import ResultsStore
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.worklist import Action
from tests import test_clinical_sr as clinical
from tests.store_helpers import audit_key
from tests.test_clinical_sr import CAMPAIGN, parse_report, truth_nodules

# the SR tests' set-ups: a study with nodules, and a stored campaign over the small cohort
selected = clinical.selected
campaign = clinical.campaign


def test_a_verified_report_names_the_reader_and_the_confirmed_category(selected):
    sel, first, truth = selected
    nodules = truth_nodules(truth)
    result = StudyResult("s" * 20, "p" * 20, "north", "site-000000000001", "60-64", "F",
                         Outcome.SCREENED, "lung_nodule_detector", "1",
                         category=Category.parse(truth["lung_rads"]), nodules=nodules)
    identity = SrIdentity(sr_uid("a"), sr_uid("b"))
    at = datetime(2027, 2, 3, 10, 20, 30, tzinfo=UTC)
    verification = ReaderVerification("lee^ann", at, Category.SUSPICIOUS_4A, rejected=(1,))
    sr = build_sr(result, first, sel.slices, identity=identity, key_fingerprint="f",
                  verification=verification)
    unverified = build_sr(result, first, sel.slices, identity=identity, key_fingerprint="f")
    assert unverified.VerificationFlag == "UNVERIFIED"
    sr, groups, (study_group,) = parse_report(hd.sr.srread(_round_trip(sr)))
    assert sr.VerificationFlag == "VERIFIED" and sr.PreliminaryFlag == "FINAL"
    (observer,) = sr.VerifyingObserverSequence
    assert str(observer.VerifyingObserverName) == "lee^ann"
    assert observer.VerificationDateTime.startswith("20270203102030")
    (category,) = study_group.get_qualitative_evaluations(name=LUNG_RADS)
    assert category.value == category_code("4A")
    assert len(groups) == len(nodules) - 1
    assert [g.tracking_identifier for g in groups] == [f"nodule {i}" for i in
                                                       range(2, len(nodules) + 1)]
    # a reader id that is no person name is recorded as a family name alone
    plain = build_sr(result, first, sel.slices, identity=identity, key_fingerprint="f",
                     verification=replace(verification, observer_name="dr-lee@host"))
    assert str(plain.VerifyingObserverSequence[0].VerifyingObserverName) == "dr-lee@host^"


def _round_trip(sr):
    import io

    buf = io.BytesIO()
    sr.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return buf


def test_the_export_verifies_the_studies_a_reader_decided(campaign, tmp_path, capsys):
    from cli.main import main

    spec_path, spec, _, results = campaign
    out = tmp_path / "pacs"
    argv = ["export", CAMPAIGN, "--format", "sr", "--out", str(out), "--spec", str(spec_path)]
    assert main(argv) == 0
    before = {p.name: hd.sr.srread(p).SOPInstanceUID for p in out.iterdir()}
    with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
        draw_worklist(store, CAMPAIGN, fraction=1.0, seed=1)  # every screen a task
        study_pid = sorted(results)[0]
        decision = decide(store, CAMPAIGN, study_pid, Action.CHANGE, reader="lee^ann",
                          category=Category.VERY_SUSPICIOUS_4B)
    assert main(argv) == 0
    after = {p.name: hd.sr.srread(p).SOPInstanceUID for p in out.iterdir()}
    # a verified report is a new instance; the others are the same reports as before
    assert [n for n in before if before[n] != after[n]] == ["1.dcm"]
    flags = {}
    for path in sorted(out.iterdir()):
        sr, _, (study_group,) = parse_report(path)
        flags[path.name] = sr.VerificationFlag
        if sr.VerificationFlag == "VERIFIED":
            (observer,) = sr.VerifyingObserverSequence
            assert str(observer.VerifyingObserverName) == "lee^ann"
            assert observer.VerificationDateTime.startswith(
                decision.decided_at.strftime("%Y%m%d%H%M%S"))
            (category,) = study_group.get_qualitative_evaluations(name=LUNG_RADS)
            assert category.value == category_code("4B")
    # files are numbered by pseudonym: the first is the decided study
    assert flags.pop("1.dcm") == "VERIFIED"
    assert set(flags.values()) == {"UNVERIFIED"}
