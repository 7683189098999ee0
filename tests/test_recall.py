"""Recall: who to call back, matched from the sources with the key; audited; no PHI leaks."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import stat
from dataclasses import replace

import pytest
from sqlalchemy import text

from cli.main import main
from jobs.recall import RecallEntry, nodule_summary, verify_audit_log
from jobs.spec.operator import os_operator
from jobs.store import ResultsStore
from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from tests.campaign_helpers import own_key_intake

CAMPAIGN = "recall-test"
NODULES = {
    Category.VERY_SUSPICIOUS_4B: (Nodule(5, 5, 5, 16.0, 16.0, NoduleType.SOLID, 0.9),),
    Category.SUSPICIOUS_4A: (Nodule(5, 5, 5, 12.0, 6.5, NoduleType.PART_SOLID, 0.8),
                             Nodule(9, 9, 9, 3.0, 3.0, NoduleType.SOLID, 0.6)),
    Category.PROBABLY_BENIGN: (Nodule(5, 5, 5, 7.0, 7.0, NoduleType.SOLID, 0.7),),
}


@pytest.fixture
def campaign(small_cohort, tmp_path):
    """A stored campaign over the small cohort: intake for real, categories set by hand."""
    # a key of the test's own: test_bad_input removes it
    spec_path, spec, pseudonymizer, intake = own_key_intake(small_cohort.root, tmp_path,
                                                            CAMPAIGN)
    records = sorted(intake.records.values(), key=lambda r: r.study_pid)
    assert len(records) >= 4
    categories = [Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4A, Category.PROBABLY_BENIGN]
    results = []
    for i, rec in enumerate(records):
        category = categories[i] if i < len(categories) else Category.NEGATIVE
        results.append(StudyResult(
            rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band, rec.sex,
            Outcome.SCREENED, "lung_nodule_detector", "1", category=category,
            nodules=NODULES.get(category, ())))
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign(CAMPAIGN, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results(CAMPAIGN, results + intake.early)
    # who the sources say each study is (read independently of jobs.recall)
    people = {}
    for headers in small_cohort.headers.values():
        _, ds = headers[0]
        pid = pseudonymizer.study(str(ds.PatientID), str(ds.StudyInstanceUID))
        people[pid] = (str(ds.PatientID), str(ds.PatientName), str(ds.StudyDate),
                       str(ds.AccessionNumber))
    by_category = {r.category: people[r.study_pid] for r in results[:3]}
    return spec_path, spec, by_category, people


def _leaks(text, people):
    return [v for person in people.values() for v in (person[0], person[1], person[3])
            if v and v in text]


def test_recall_writes_the_people_to_call_back_and_audits(campaign, tmp_path, capsys, caplog,
                                                          monkeypatch):
    spec_path, spec, by_category, people = campaign
    caplog.set_level(logging.DEBUG)
    for name in ("LUNGSCREEN_OPERATOR", "USER", "LOGNAME"):  # who ran it is not an env var
        monkeypatch.setenv(name, "mallory")
    out = tmp_path / "authority" / "recall.csv"
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out)]) == 0

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["category"] for r in rows] == ["4B", "4A"]  # most suspicious first
    for row, category in zip(rows, (Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4A),
                             strict=True):
        patient_id, name, date, accession = by_category[category]
        assert (row["patient_id"], row["patient_name"], row["study_date"],
                row["accession_number"]) == (patient_id, name, date, accession)
    assert rows[1]["nodules"].startswith("part-solid 12.0 mm, solid part 6.5 mm (4A)")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    audit = spec.data_dir / "audit.log"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    (line,) = [json.loads(x) for x in audit.read_text().splitlines()]
    assert line["event"] == "recall_export" and line["campaign"] == CAMPAIGN
    assert line["count"] == 2 and line["not_found"] == 0 and line["min_category"] == "4A"
    assert line["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert line["operator"] == os_operator() != "mallory" and "@" in line["operator"]
    assert line["time"] and line["prev_sha256"] == "0" * 64

    captured = capsys.readouterr()
    sinks = captured.out + captured.err + caplog.text + audit.read_text()
    assert "2 studies" in captured.out
    assert _leaks(sinks, people) == []
    with ResultsStore.open(spec.store_url) as store:
        events = [e for e in store.events(CAMPAIGN) if e.kind == "recall_export"]
        assert [e.detail["count"] for e in events] == [2]
        assert [e.detail["operator"] for e in events] == [os_operator()]
        assert _leaks(json.dumps([e.detail for e in events]), people) == []


def test_second_export_chains_and_tampering_is_detected(campaign, tmp_path, capsys):
    spec_path, spec, _, _ = campaign
    for n, cat in enumerate(("4A", "3"), 1):
        out = tmp_path / f"recall-{n}.csv"
        assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out),
                     "--min-category", cat]) == 0
    audit = spec.data_dir / "audit.log"
    lines = audit.read_text().splitlines()
    assert [json.loads(x)["count"] for x in lines] == [2, 3]
    assert verify_audit_log(audit) == 2
    doctored = json.loads(lines[0]) | {"count": 1}
    audit.write_text(json.dumps(doctored, sort_keys=True) + "\n" + lines[1] + "\n")
    with pytest.raises(BadInput, match="line 2"):
        verify_audit_log(audit)


def test_bad_input(campaign, tmp_path, capsys):
    spec_path, spec, _, _ = campaign
    out = tmp_path / "r.csv"
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out),
                 "--min-category", "5"]) == 2
    assert "4A" in capsys.readouterr().err
    spec.key_path.unlink()  # fail closed: never a fresh key that matches nobody
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out)]) == 2
    assert "pseudonym key" in capsys.readouterr().err
    assert not out.exists() and not spec.key_path.exists()


def test_nodule_summary_and_entry_repr():
    nodules = (Nodule(1, 1, 1, 3.04, 3.0, NoduleType.SOLID, 0.5),
               Nodule(1, 1, 1, 31.0, 0.0, NoduleType.GROUND_GLASS, 0.5),
               Nodule(1, 1, 1, 8.0, 8.0, NoduleType.SOLID, 0.5),
               Nodule(1, 1, 1, 2.0, 2.0, NoduleType.SOLID, 0.5))
    assert nodule_summary(nodules) == ("solid 8.0 mm (4A); ground-glass 31.0 mm (3); "
                                       "solid 3.0 mm (2); +1 more")
    entry = RecallEntry("PID-123", "DOE^JANE", "20260101", "ACC9", "HOSP", "north", "site-1",
                        "4A", "")
    assert "PID-123" not in repr(entry) and "DOE" not in repr(replace(entry))


def test_recall_with_a_failing_audit_writes_nothing(campaign, tmp_path, capsys):
    spec_path, spec, _, _ = campaign
    audit = spec.data_dir / "audit.log"
    audit.parent.mkdir(parents=True, exist_ok=True)
    audit.mkdir()  # a folder where the log should be: every append fails
    out = tmp_path / "authority" / "recall.csv"
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "audit log could not be written" in err and "nothing was exported" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_recall_cells_that_would_start_a_formula_are_escaped():
    from jobs.recall import RecallEntry, csv_cell, render_recall_csv

    assert [csv_cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "Doe^Jo")] \
        == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "Doe^Jo"]
    names = [f.name for f in dataclasses.fields(RecallEntry)]
    entry = RecallEntry(**{n: "x" for n in names} | {"patient_name": '=HYPERLINK("http://e")',
                                                     "category": "4A"})
    _, data = render_recall_csv([entry])
    row = next(csv.DictReader(io.StringIO(data.decode())))
    assert row["patient_name"] == '\'=HYPERLINK("http://e")'


def _recall(spec_path, out):
    return main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out)])


def test_recall_refuses_to_append_to_a_cut_trail(campaign, tmp_path, capsys):
    """The store's trail cut after an export: the next recall writes nothing, exits 1."""
    spec_path, spec, _, _ = campaign
    for n in (1, 2):
        assert _recall(spec_path, tmp_path / f"r{n}.csv") == 0
    audit = spec.data_dir / "audit.log"
    before = audit.read_bytes()
    with ResultsStore.open(spec.store_url) as store, store._engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)"))
    capsys.readouterr()
    out = tmp_path / "second.csv"
    assert _recall(spec_path, out) == 1
    err = capsys.readouterr().err
    assert "audit trail" in err and "truncated" in err and "Traceback" not in err
    assert not out.exists() and audit.read_bytes() == before
    assert main(["audit", "verify", "--spec", str(spec_path)]) == 1
    assert "BROKEN at seq" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", ["emptied", "cut", "edited"])
def test_recall_refuses_when_its_file_log_was_tampered_with(campaign, tmp_path, capsys,
                                                            tamper):
    spec_path, spec, _, _ = campaign
    for n in (1, 2):
        assert _recall(spec_path, tmp_path / f"r{n}.csv") == 0
    assert main(["audit", "verify", "--spec", str(spec_path)]) == 0
    audit = spec.data_dir / "audit.log"
    lines = audit.read_text().splitlines()
    if tamper == "emptied":
        audit.write_text("")
    elif tamper == "cut":
        audit.write_text(lines[0] + "\n")
    else:
        audit.write_text(lines[0] + "\n" + json.dumps(json.loads(lines[1]) | {"seq": 1}) + "\n")
    capsys.readouterr()
    out = tmp_path / "r3.csv"
    assert _recall(spec_path, out) == 1
    assert "audit trail is broken at seq" in capsys.readouterr().err
    assert not out.exists()
    assert main(["audit", "verify", "--spec", str(spec_path)]) == 1
    assert "audit.log" in capsys.readouterr().out
