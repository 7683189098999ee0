"""Scan over the synthetic defect cohort: every study's decision equals the ground truth's
`expected`, every planted bad file is rejected with its reason, selected series load."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from jobs.ingest.discovery import discover
from jobs.ingest.selection import Selected, select_series
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.volume import load_volume

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _truth(cohort):
    return cohort.by_study_uid()


def test_every_decision_matches_the_ground_truth(defect_cohort):
    truth = _truth(defect_cohort)
    source = FolderSource(defect_cohort.dicom)
    rejected = {}
    studies = list(
        discover([source], on_file=lambda o: o.reason and rejected.update({o.locator: o.reason}))
    )
    assert {s.study_uid for s in studies} == set(truth)
    for study in studies:
        t = truth[study.study_uid]
        decision = select_series(study)
        kind = t["defects"][0]["kind"] if t["defects"] else "clean"
        got = (isinstance(decision, Selected), getattr(decision, "reason", None))
        assert got == (t["expected"]["selected"], t["expected"]["reason"]), kind
        if isinstance(decision, Selected):
            assert decision.series.series_uid == t["primary_series_uid"], kind
            assert decision.slice_count == t["shape"][0], kind
            assert decision.spacing == pytest.approx(t["spacing"], rel=1e-4), kind
    planted = {
        r["path"].removeprefix("dicom/"): r["reason"]
        for t in truth.values()
        for r in t["rejected_files"]
    }
    assert {k: rejected.get(k) for k in planted} == planted


def test_selected_volumes_load_with_the_truths_geometry(defect_cohort):
    truth = _truth(defect_cohort)
    source = FolderSource(defect_cohort.dicom)
    loaded = set()
    for study in discover([source]):
        decision = select_series(study)
        if not isinstance(decision, Selected):
            continue
        t = truth[study.study_uid]
        volume = load_volume(source, decision)
        assert list(volume.hu.shape) == t["shape"]
        assert decision.slices[0].position == pytest.approx(t["first_slice_lps_mm"], abs=1e-2)
        assert -900 < float(volume.hu.mean()) < 0  # air, lungs and body, in HU
        loaded.add(t["transfer_syntax"])
    assert loaded


def test_scan_json_accounts_for_every_file_and_study(defect_cohort, capsys, tmp_path):
    truth = _truth(defect_cohort)
    code = main(
        [
            "scan",
            str(defect_cohort.dicom),
            "--json",
            "--region-from-path",
            "--key-file",
            str(tmp_path / "k"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    summary = lines[-1]
    on_disk = sum(1 for p in defect_cohort.dicom.rglob("*") if p.is_file())
    assert summary["files"] == on_disk
    assert summary["studies"] == len(truth)
    assert summary["studies_selected"] == sum(t["expected"]["selected"] for t in truth.values())
    expected_reasons: dict[str, int] = {}
    for t in truth.values():
        if not t["expected"]["selected"]:
            reason = t["expected"]["reason"]
            expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert summary["studies_quarantined"] == dict(sorted(expected_reasons.items()))
    regions = sorted(x["region"] for x in lines if x["type"] == "study")
    assert regions == sorted(t["region"] for t in truth.values())
    for t in truth.values():  # no identifier of any study in machine output
        assert t["study_uid"] not in out and t["patient_id"] not in out


def test_clean_small_cohort_is_all_selected(small_cohort):
    truth = small_cohort.by_study_uid()
    source = FolderSource(small_cohort.dicom)
    for study in discover([source]):
        decision = select_series(study)
        assert isinstance(decision, Selected), getattr(decision, "detail", "")
        assert decision.series.series_uid == truth[study.study_uid]["primary_series_uid"]
