"""Technical recall (repeat scan or manual read), and the key check of every re-identifying
command: recall, technical recall and resume refuse a key that is not the campaign's."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat

import pytest

from cli.main import main
from jobs.ingest.privacy import Pseudonymizer, load_or_create_key
from jobs.store import ResultsStore
from jobs.technical_recall import due_for_technical_recall
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult
from tests.campaign_helpers import own_key_intake

CAMPAIGN = "technical-test"
# per study, in pseudonym order: (outcome, reason, category)
PLAN = [(Outcome.QUARANTINED, Reason.SLICE_GAP, None),
        (Outcome.QUARANTINED, Reason.DECODE_FAILED, None),
        (Outcome.QUARANTINED, Reason.NOT_CT, None),
        (Outcome.SCREENED, None, Category.INCOMPLETE),
        (Outcome.SCREENED, None, Category.NEGATIVE),
        (Outcome.SCREENED, None, Category.SUSPICIOUS_4A)]


def _result(record, outcome, reason, category):
    return StudyResult(record.study_pid, record.patient_pid, record.region, record.site,
                       record.age_band, record.sex, outcome, "threshold_detector", "1",
                       category=category, reason=reason)


@pytest.fixture
def campaign(small_cohort, tmp_path):
    """A stored campaign over the small cohort (intake for real, outcomes set by hand) that
    recorded its key's fingerprint; who each study is, read from the sources."""
    # a key of the test's own: the tests replace it
    spec_path, spec, pseudonymizer, intake = own_key_intake(small_cohort.root, tmp_path,
                                                            CAMPAIGN)
    records = sorted(intake.records.values(), key=lambda r: r.study_pid)
    assert len(records) == len(PLAN) == len({r.patient_pid for r in records})
    results = [_result(rec, *plan) for rec, plan in zip(records, PLAN, strict=True)]
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign(CAMPAIGN, spec_digest="d", model_name="threshold_detector",
                              model_version="1", key_fingerprint=pseudonymizer.fingerprint())
        store.commit_results(CAMPAIGN, results)
    people = {}
    for headers in small_cohort.headers.values():
        _, ds = headers[0]
        pid = pseudonymizer.study(str(ds.PatientID), str(ds.StudyInstanceUID))
        people[pid] = (str(ds.PatientID), str(ds.AccessionNumber))
    return spec_path, spec, {r.reason or r.category: people[r.study_pid] for r in results}


def test_technical_recall_lists_the_repeat_scans_and_manual_reads(campaign, tmp_path,
                                                                  capsys):
    spec_path, spec, who = campaign
    out = tmp_path / "authority" / "technical.csv"
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--technical",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0])[:7] == ["patient_id", "patient_name", "study_date",
                                 "accession_number", "institution", "region", "site"]
    assert list(rows[0])[7:] == ["reason", "next_step"]
    got = {(r["patient_id"], r["accession_number"]): (r["reason"], r["next_step"])
           for r in rows}
    assert got == {who[Reason.DECODE_FAILED]: ("decode_failed", "manual_read"),
                   who[Reason.SLICE_GAP]: ("slice_gap", "repeat_scan"),
                   who[Category.INCOMPLETE]: ("incomplete_lung_coverage", "repeat_scan")}
    assert rows[0]["next_step"] == "manual_read"  # by next step, then reason
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    printed = capsys.readouterr().out
    assert "3 people (1 manual read, 2 repeat scan)" in printed
    assert who[Reason.SLICE_GAP][0] not in printed

    (line,) = [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]
    assert line["event"] == "technical_recall_export" and line["count"] == 3
    assert (line["repeat_scan"], line["manual_read"], line["not_found"]) == (2, 1, 0)
    assert line["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert main(["audit", "verify", "--spec", str(spec_path)]) == 0


def test_technical_and_min_category_do_not_mix(campaign, tmp_path, capsys):
    spec_path, _, _ = campaign
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--technical",
                 "--min-category", "3", "--out", str(tmp_path / "t.csv")]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_one_row_per_person_and_people_screened_after_all_are_left_out():
    def r(study, patient, outcome, reason=None, category=None):
        return StudyResult(study, patient, "north", "s", "60-64", "F", outcome, "m", "1",
                           category=category, reason=reason)

    results = [r("a1", "A", Outcome.QUARANTINED, Reason.THICK_SLICES),
               r("a2", "A", Outcome.QUARANTINED, Reason.INFERENCE_FAILED),
               r("b1", "B", Outcome.QUARANTINED, Reason.SLICE_GAP),
               r("b2", "B", Outcome.SCREENED, category=Category.BENIGN),
               r("c1", "C", Outcome.QUARANTINED, Reason.OPTED_OUT),
               r("d1", "D", Outcome.SCREENED, category=Category.INCOMPLETE)]
    due = due_for_technical_recall(results, results)
    assert sorted(due) == ["a2", "d1"]  # A: a manual read first; B was screened after all


@pytest.mark.parametrize("technical", [False, True])
def test_a_replaced_key_is_refused_naming_the_key_file(campaign, tmp_path, capsys,
                                                       technical):
    spec_path, spec, _ = campaign
    old = Pseudonymizer(spec.key_path.read_bytes()).fingerprint()
    spec.key_path.unlink()
    key = load_or_create_key(spec.key_path)  # someone made a new one
    new = Pseudonymizer(key).fingerprint()
    out = tmp_path / "r.csv"
    args = ["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out)]
    assert main(args + (["--technical"] if technical else [])) == 2
    err = capsys.readouterr().err
    assert str(spec.key_path) in err and "is not the key campaign" in err
    assert old[:8] in err and new[:8] in err and "refused" in err
    assert key.hex() not in err and old not in err  # prefixes only, never the key
    assert not out.exists() and not (spec.data_dir / "audit.log").exists()


def test_resume_refuses_a_replaced_key_and_never_makes_one(campaign, capsys):
    spec_path, spec, _ = campaign
    spec.key_path.unlink()
    args = ["campaign", "resume", CAMPAIGN, "--spec", str(spec_path), "--no-progress",
            "--backend", "inprocess"]
    assert main(args) == 2
    assert "no pseudonym key at" in capsys.readouterr().err
    assert not spec.key_path.exists()
    load_or_create_key(spec.key_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "resume refused" in err and str(spec.key_path) in err


def test_the_service_serves_technical_recall_to_the_authority_only(campaign):
    """POST /api/v1/campaigns/{id}/recall/technical: the CLI's list, authority only."""
    from jobs.service import ServiceConfig
    from jobs.spec.secrets import default_audit_key
    from kernel.roles import Role
    from tests.service_helpers import running_service
    from tests.store_helpers import token_key

    _, spec, who = campaign
    with ResultsStore.open(spec.store_url, audit_key=default_audit_key(os.environ)) as store:
        tokens = {role: store.create_token(f"{role.value}-t", role, key=token_key())
                  for role in (Role.AUTHORITY, Role.ANALYST)}
        config = ServiceConfig(store, {CAMPAIGN: spec}, token_key=token_key())
        with running_service(config) as svc:
            path = f"/api/v1/campaigns/{CAMPAIGN}/recall/technical"
            assert svc.call("POST", path, tokens[Role.ANALYST]).status_code == 403
            got = svc.call("POST", path, tokens[Role.AUTHORITY])
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(got.text.splitlines()))
    assert {(r["patient_id"], r["accession_number"]): r["next_step"] for r in rows} == {
        who[Reason.DECODE_FAILED]: "manual_read", who[Reason.SLICE_GAP]: "repeat_scan",
        who[Category.INCOMPLETE]: "repeat_scan"}
