"""`lungscreen review` end to end on a stored campaign (intake for real, categories set by
hand): tasks listed by pseudonym, decisions recorded and audited, and `lungscreen recall`
following them (`--confirmed-only`, a changed category), with no PHI anywhere printed."""

from __future__ import annotations

import csv
import json

import pytest

from cli.main import main
from jobs.store import ResultsStore
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from tests.campaign_helpers import own_key_intake
from tests.review_helpers import NODULES
from tests.store_helpers import audit_key

CAMPAIGN = "review-cli"
ORDER = [Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4A, Category.PROBABLY_BENIGN]


@pytest.fixture
def campaign(small_cohort, tmp_path):
    spec_path, spec, _, intake = own_key_intake(small_cohort.root, tmp_path,
                                                            CAMPAIGN)
    records = sorted(intake.records.values(), key=lambda r: r.study_pid)
    results = [StudyResult(
        rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band, rec.sex,
        Outcome.SCREENED, "lung_nodule_detector", "1",
        category=ORDER[i] if i < len(ORDER) else Category.NEGATIVE,
        nodules=NODULES.get(ORDER[i], ()) if i < len(ORDER) else ())
        for i, rec in enumerate(records)]
    with ResultsStore.open(spec.store_url) as store:
        store.ensure_campaign(CAMPAIGN, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results(CAMPAIGN, results + intake.early)
    people = [str(v) for hs in small_cohort.headers.values() for _, ds in hs[:1]
              for v in (ds.PatientID, ds.PatientName, ds.AccessionNumber) if str(v)]
    return spec_path, spec, {r.category: r.study_pid for r in results[:3]}, people


def _review(spec_path, *args):
    return main(["review", CAMPAIGN, "--spec", str(spec_path), *args])


def _recall(spec_path, tmp_path, *args):
    out = tmp_path / "recall.csv"
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out", str(out), *args]) == 0
    return [row["category"] for row in csv.DictReader(out.open(encoding="utf-8"))]


def test_review_lists_decides_and_recall_follows(campaign, tmp_path, capsys):
    spec_path, spec, pids, people = campaign
    assert _review(spec_path, "--sample", "0", "--seed", "5") == 0
    listing = capsys.readouterr().out
    assert "threshold 3, 0% of negatives sampled with seed 5; 3 tasks (3 new)" in listing
    assert all(pids[c] in listing for c in ORDER)
    assert "1: solid 9.0 mm (4A); 2: solid 4.0 mm (2)" in listing

    four_a, three = pids[Category.SUSPICIOUS_4A], pids[Category.PROBABLY_BENIGN]
    assert _review(spec_path, "--change", four_a[:10], "--category", "2",
                   "--reader", "dr-lee") == 0
    assert "change, confirmed category 2, by dr-lee" in capsys.readouterr().out
    assert _review(spec_path, "--confirm", three) == 0
    assert _review(spec_path, "--json", "--pending") == 0
    printed = capsys.readouterr().out
    doc = json.loads(printed[printed.index("{"):])
    assert doc["plan"] == {"threshold": "3", "fraction": 0.0, "seed": 5}
    assert [t["study"] for t in doc["tasks"]] == [pids[Category.VERY_SUSPICIOUS_4B]]

    # without the flag: the AI where no reader decided, the reader where one did (4A -> 2)
    assert _recall(spec_path, tmp_path) == ["4B"]
    assert _recall(spec_path, tmp_path, "--min-category", "3") == ["4B", "3"]
    # only confirmed results: the 4B no reader has read is not recalled
    assert _recall(spec_path, tmp_path, "--min-category", "3", "--confirmed-only") == ["3"]
    lines = [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]
    assert [x["confirmed_only"] for x in lines] == [0, 0, 1]

    with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
        events = [e for e in store.events(CAMPAIGN) if e.kind == "reading_decision"]
        ai = {r.study_pid: r.category for r in store.results(CAMPAIGN)}
    assert [(e.detail["study"], e.detail["who"], e.detail["category"]) for e in events] == [
        (four_a, "dr-lee", "2"), (three, events[1].detail["who"], "3")]
    assert "@" in events[1].detail["who"]  # the OS account, as os_operator gives it
    assert events[0].detail["operator"] == events[1].detail["who"]  # who ran it for dr-lee
    assert ai[four_a] is Category.SUSPICIOUS_4A  # the AI result is untouched
    sinks = listing + printed + json.dumps([e.detail for e in events])
    assert [p for p in people if p in sinks] == []


def test_review_refuses_bad_input(campaign, tmp_path, capsys):
    spec_path, _, pids, _ = campaign
    four_a = pids[Category.SUSPICIOUS_4A]
    assert _review(spec_path, "--confirm", four_a) == 2  # no worklist drawn yet: no task
    assert "not a reading task" in capsys.readouterr().err
    assert _review(spec_path, "--category", "2") == 2
    assert _review(spec_path, "--confirm", four_a, "--seed", "3") == 2
    assert _review(spec_path, "--threshold", "5") == 2
    assert _review(spec_path, "--sample", "2") == 2
    assert _review(spec_path) == 0
    assert _review(spec_path, "--change", four_a, "--category", "9") == 2
    assert _review(spec_path, "--reject-finding", four_a, "--nodule", "3") == 2
    assert _review(spec_path, "--confirm", "abc") == 2
    err = capsys.readouterr().err
    assert "--category: unknown Lung-RADS category '9'" in err and "nodule 3" in err
    assert main(["recall", CAMPAIGN, "--spec", str(spec_path), "--out",
                 str(tmp_path / "x.csv"), "--technical", "--confirmed-only"]) == 2


def test_the_readers_worklist_csv_is_re_identified_owner_only_and_audited(
        campaign, small_cohort, tmp_path, capsys):
    import stat

    spec_path, spec, pids, people = campaign
    out = tmp_path / "readers.csv"
    assert _review(spec_path, "--sample", "0", "--seed", "5", "--out", str(out)) == 0
    printed = capsys.readouterr()
    assert "worklist for readers: 3 tasks written" in printed.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["task"] for r in rows] == [pids[c] for c in ORDER]  # most suspicious first
    assert [r["ai_category"] for r in rows] == [c.value for c in ORDER]
    by_study = {str(ds.StudyInstanceUID): ds for hs in small_cohort.headers.values()
                for _, ds in hs[:1]}
    accessions = {str(ds.AccessionNumber): ds for ds in by_study.values()}
    for row in rows:  # each task names the person whose study it is
        ds = accessions[row["accession_number"]]
        assert row["patient_id"] == str(ds.PatientID)
        assert row["study_date"] == str(ds.StudyDate)
    assert rows[0]["nodules"].startswith("1: ")
    lines = [json.loads(x) for x in (spec.data_dir / "audit.log").read_text().splitlines()]
    assert [(x["event"], x["count"], x["not_found"]) for x in lines] == [
        ("worklist_export", 3, 0)]
    sinks = printed.out + printed.err + (spec.data_dir / "audit.log").read_text()
    assert [p for p in people if p in sinks] == []

    # a decided task says so; --pending leaves it out
    assert _review(spec_path, "--confirm", pids[Category.SUSPICIOUS_4A]) == 0
    assert _review(spec_path, "--out", str(out)) == 0
    decided = {r["task"]: r["decision"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert decided[pids[Category.SUSPICIOUS_4A]].startswith("confirm -> 4A by ")
    assert _review(spec_path, "--pending", "--out", str(out)) == 0
    assert pids[Category.SUSPICIOUS_4A] not in {
        r["task"] for r in csv.DictReader(out.open(encoding="utf-8"))}
