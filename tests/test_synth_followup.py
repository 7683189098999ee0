"""Screening rounds: the follow-up writer's people, dates, acquisitions, nodules and links."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from kernel.errors import BadInput
from synth.cohort import write_cohort, write_follow_up
from synth.phantom import baseline_nodules, draw_body, make_phantom
from synth.priors import read_prior
from synth.rounds import add_months, plan_follow_up
from synth.study import render_plan
from tests.cohorts import ROUND_ARGS, Cohort, assert_selected_as_planned, moved_as_documented

Rounds = tuple[Cohort, Cohort, Cohort]


def _headers(cohort: Cohort) -> dict[str, Dataset]:
    """One header per study (the first file of each folder that holds DICOM)."""
    out: dict[str, Dataset] = {}
    for folder in sorted({p.parent for p in cohort.dicom.rglob("*") if p.is_file()}):
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                ds = dcmread(path, stop_before_pixels=True)
            except Exception:  # a defect's junk file
                continue
            out.setdefault(str(ds.StudyInstanceUID), ds)
            break
    return out


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def _pairs(prior: Cohort, later: Cohort) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(prior study, follow-up study) for every follow-up with a prior."""
    before = prior.by_study_uid()
    return [(before[t["prior"]["study_uid"]], t) for t in later.truth if t["prior"] is not None]


def test_the_baseline_numbers_its_nodules_and_its_round(round_cohorts: Rounds) -> None:
    first = round_cohorts[0]
    headers = _headers(first)
    for t in first.truth:
        assert t["round"] == 1 and "prior" not in t
        assert [n["nodule_id"] for n in t["nodules"]] == [f"{t['index']}-{k}"
                                                          for k in range(len(t["nodules"]))]
        assert headers[t["study_uid"]].ClinicalTrialTimePointID == "1"
    seed = first.truth[0]["phantom_seed"]
    again = [(truth.number, truth.diameter_mm) for _, truth in baseline_nodules(
        draw_body(seed, "tiny", {}))]
    assert again == [(n.number, n.diameter_mm) for n in make_phantom(seed, "tiny").nodules]


def test_the_same_people_come_back_months_later(round_cohorts: Rounds) -> None:
    first, second, _ = round_cohorts
    h1, h2 = _headers(first), _headers(second)
    pairs = _pairs(first, second)
    assert len(pairs) == ROUND_ARGS["studies"]
    for before, after in pairs:
        for key in ("patient_id", "sex", "region", "site", "phantom_seed", "profile"):
            assert after[key] == before[key], key
        assert _date(after["study_date"]) == add_months(_date(before["study_date"]), 12)
        assert after["prior"]["interval_days"] == (_date(after["study_date"])
                                                   - _date(before["study_date"])).days
        assert after["prior"]["study_date"] == before["study_date"]
        assert after["study_uid"] != before["study_uid"] and after["round"] == 2
        a, b = h1[before["study_uid"]], h2[after["study_uid"]]
        for field in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                      "OtherPatientIDs", "InstitutionName"):
            assert str(b.get(field)) == str(a.get(field)), field
        assert b.AccessionNumber != a.AccessionNumber and b.StudyDate == after["study_date"]
        assert b.ClinicalTrialTimePointID == "2"
        born, seen = _date(b.PatientBirthDate), _date(b.StudyDate)
        assert after["age"] == seen.year - born.year - ((seen.month, seen.day)
                                                        < (born.month, born.day))


def test_every_prior_nodule_is_linked_or_resolved(round_cohorts: Rounds) -> None:
    for prior, later in itertools.pairwise(round_cohorts):
        for before, after in _pairs(prior, later):
            linked = [n["prior_nodule_id"] for n in after["nodules"] if n["prior_nodule_id"]]
            gone = [r["nodule_id"] for r in after["resolved"]]
            assert after["unseen"] == []  # no defects: every scan covers the lungs
            assert sorted(linked + gone) == sorted(n["nodule_id"] for n in before["nodules"])
            ids = [n["nodule_id"] for n in after["nodules"]] + gone
            assert len(ids) == len(set(ids))  # unique within the person, resolved ones too
            for n in after["nodules"]:
                if n["prior_nodule_id"] is not None:
                    assert n["nodule_id"] == n["prior_nodule_id"]  # a nodule keeps its id
                else:
                    assert n["change"] == "new" and n["growth_mm"] is None
                    assert n["prior_diameter_mm"] is None


def test_nodules_move_with_the_patient(round_cohorts: Rounds) -> None:
    checked = 0
    for prior, later in itertools.pairwise(round_cohorts):
        for before, after in _pairs(prior, later):
            where = {n["nodule_id"]: n["centre_lps_mm"] for n in before["nodules"]}
            for n in after["nodules"]:
                if n["prior_nodule_id"] is None:
                    continue
                expected = moved_as_documented(where[n["prior_nodule_id"]], after["acquisition"])
                assert np.abs(expected - n["centre_lps_mm"]).max() < 1.0
                checked += 1
            for r in after["resolved"]:
                assert r["centre_lps_mm"] == where[r["nodule_id"]]
    assert checked > 30


def test_acquisitions_are_a_few_mm_and_degrees_off(round_cohorts: Rounds) -> None:
    first, second, _ = round_cohorts
    vendors = {t["study_uid"]: t["vendor"] for t in first.truth}
    changed = 0
    for before, after in _pairs(first, second):
        acq = after["acquisition"]
        assert max(abs(v) for v in acq["shift_mm"]) <= 5.0
        assert max(abs(v) for v in acq["rotation_deg"][:2]) <= 2.0
        assert abs(acq["rotation_deg"][2]) <= 3.0
        assert 0.96 <= acq["z_scale"] <= 1.04
        assert (after["vendor"] != vendors[before["study_uid"]]) == acq["vendor_changed"]
        changed += acq["vendor_changed"]
        assert after["shape"][1:] == before["shape"][1:]  # the same profile's matrix
    assert 0 < changed < len(second.truth) / 2


def test_growth_is_what_the_drawn_shapes_measure(round_cohorts: Rounds) -> None:
    first, second, _ = round_cohorts
    for before, after in _pairs(first, second):
        sizes = {n["nodule_id"]: n for n in before["nodules"]}
        for n in after["nodules"]:
            if n["prior_nodule_id"] is None:
                continue
            prior = sizes[n["prior_nodule_id"]]
            assert n["prior_diameter_mm"] == prior["diameter_mm"]
            assert n["prior_solid_diameter_mm"] == prior["solid_diameter_mm"]
            assert n["growth_mm"] == pytest.approx(n["diameter_mm"] - prior["diameter_mm"],
                                                   abs=0.051)
            g = n["growth_mm"]
            assert n["change"] == ("grown" if g > 0.3 else "smaller" if g < -0.3 else "stable")
    # re-render a few: the sizes and places the truth records are the volume's
    plans = plan_follow_up(read_prior(first.root), seed=1, months=12)
    truth = second.truth
    picked = [p for p in plans if p.follow_up and p.follow_up.visit
              and any(n["change"] == "grown" for n in truth[p.index]["nodules"])][:2]
    assert picked
    for plan in picked:
        ph, _ = render_plan(plan)
        t = truth[plan.index]
        assert list(ph.hu.shape) == t["shape"]
        drawn = {f"{plan.person_key}-{n.number}": n for n in ph.nodules}
        for n in t["nodules"]:
            again = drawn[n["nodule_id"]]
            assert abs(again.diameter_mm - n["diameter_mm"]) <= 0.2
            assert np.allclose([again.z, again.y, again.x], [n["z"], n["y"], n["x"]], atol=1e-3)
            if n["type"] == "solid" and n["diameter_mm"] >= 6.0:  # it is in the pixels
                k, j, i = (round(v) for v in (n["z"], n["y"], n["x"]))
                assert ph.hu[k, j, i] > -300


def test_growth_crosses_1_5_mm_in_some_and_not_in_others(round_cohorts: Rounds) -> None:
    second = round_cohorts[1]
    nodules = [n for t in second.truth for n in t["nodules"]]
    growth = [n["growth_mm"] for n in nodules if n["change"] == "grown"]
    assert any(g > 1.5 for g in growth) and any(g <= 1.5 for g in growth)
    kinds = {n["change"] for n in nodules}
    assert kinds == {"new", "grown", "stable", "smaller"}
    assert any(t["resolved"] for t in second.truth)
    new = [n["diameter_mm"] for t in second.truth if t["prior"] is not None
           for n in t["nodules"] if n["change"] == "new"]
    assert any(d < 4 for d in new) and any(4 <= d < 6 for d in new)
    assert any(6 <= d < 8 for d in new) and any(d >= 8 for d in new)


def test_newcomers_and_people_whose_prior_is_missing(round_cohorts: Rounds) -> None:
    first, second, _ = round_cohorts
    headers = _headers(second)
    known = {t["patient_id"] for t in first.truth}
    fresh = [t for t in second.truth if t["prior"] is None]
    entrants = [t for t in fresh if not t["prior_expected"]]
    missing = [t for t in fresh if t["prior_expected"]]
    assert len(entrants) == 4 and len(missing) == 2  # 10% and 5% of 40
    for t in fresh:
        assert t["patient_id"] not in known and t["acquisition"] is None
        assert all(n["change"] == "new" for n in t["nodules"])
        assert headers[t["study_uid"]].ClinicalTrialTimePointID == str(t["round"])
    assert {t["round"] for t in entrants} == {1} and {t["round"] for t in missing} == {2}
    assert second.meta["new_entrants"] == 4 and second.meta["prior_missing"] == 2


def test_some_priors_lost_their_pixels_and_nothing_was_deleted(round_cohorts: Rounds) -> None:
    first, second, _ = round_cohorts
    lost = [t["prior"]["study_uid"] for t in second.truth
            if t["prior"] is not None and not t["prior"]["pixels_available"]]
    assert len(lost) == 4 and second.meta["priors_without_pixels"] == lost
    files = [p for p in first.dicom.rglob("*") if p.is_file()]
    assert len(files) == first.meta["files"]


def test_cohort_json_records_the_round(round_cohorts: Rounds) -> None:
    first, second, third = round_cohorts
    assert second.meta["follow_up_of"]["args"] == first.meta["args"]
    assert second.meta["months"] == 12 and second.meta["round"] == 2
    assert third.meta["follow_up_of"]["args"] == second.meta["args"]
    assert third.meta["follow_up_of"]["follow_up_of"]["args"] == first.meta["args"]
    assert third.meta["round"] == 3 and third.meta["months"] == 24
    for cohort in (second, third):
        nodules = [n for t in cohort.truth for n in t["nodules"]]
        counts = cohort.meta["changes"]
        for kind in ("new", "grown", "stable", "smaller"):
            assert counts[kind] == sum(1 for n in nodules if n["change"] == kind)
        assert counts["resolved"] == sum(len(t["resolved"]) for t in cohort.truth)


def test_a_follow_up_of_a_follow_up(round_cohorts: Rounds) -> None:
    first, second, third = round_cohorts
    h3 = _headers(third)
    by_uid = second.by_study_uid()
    firsts = first.by_study_uid()
    three_rounds = 0
    for before, after in _pairs(second, third):
        assert after["round"] == before["round"] + 1
        assert h3[after["study_uid"]].ClinicalTrialTimePointID == str(after["round"])
        assert _date(after["study_date"]) == add_months(_date(before["study_date"]), 24)
        assert after["patient_id"] == by_uid[before["study_uid"]]["patient_id"]
        if before["prior"] is None:
            continue
        origin = firsts[before["prior"]["study_uid"]]
        ids = {n["nodule_id"] for n in origin["nodules"]}
        three_rounds += sum(1 for n in after["nodules"] if n["nodule_id"] in ids)
    assert three_rounds > 5  # nodules followed over three rounds under one id
    newcomers = {t["patient_id"] for t in second.truth if t["round"] == 1}
    assert {t["round"] for t in third.truth if t["patient_id"] in newcomers} == {2}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "cohort.json":
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    write_cohort(tmp_path / "prior", studies=4, regions=1, seed=2, profile="tiny", workers=1)
    args = {"months": 6, "seed": 3, "defects": True, "defect_share": 0.5}
    write_follow_up(tmp_path / "one", tmp_path / "prior", workers=1, **args)
    write_follow_up(tmp_path / "two", tmp_path / "prior", workers=2, **args)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    write_follow_up(tmp_path / "other", tmp_path / "prior", workers=1, **{**args, "seed": 4})
    assert _digest(tmp_path / "one") != _digest(tmp_path / "other")


def test_defects_and_canaries_in_a_follow_up(tmp_path: Path) -> None:
    from jobs.ingest.discovery import discover
    from jobs.ingest.sources.folder import FolderSource

    write_cohort(tmp_path / "prior", studies=6, regions=2, seed=4, profile="tiny", workers=2,
                 canary=True)
    write_follow_up(tmp_path / "next", tmp_path / "prior", months=12, seed=5, workers=2,
                    defects=True, defect_share=1.0)
    later = Cohort(tmp_path / "next", ())
    assert later.meta["args"]["canary"] is True
    before = json.loads((tmp_path / "prior" / "canaries.json").read_text())
    after = json.loads((tmp_path / "next" / "canaries.json").read_text())
    old_tokens = {v for c in before for v in c["fields"].values()}
    for c in after[:6]:  # the prior's people, in their order
        mine = before[c["index"]]["fields"]
        for field in ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress"):
            assert c["fields"][field] == mine[field]
        for field in ("AccessionNumber", "StudyID", "StationName", "OperatorsName"):
            assert c["fields"][field].startswith("CANARY-")
            assert c["fields"][field] not in old_tokens  # new per round
    truth = later.by_study_uid()
    assert all(t["defects"] for t in truth.values())
    assert_selected_as_planned(discover([FolderSource(later.dicom)]), truth)


def test_a_bad_prior_is_refused_with_what_to_do(tmp_path: Path,
                                                round_cohorts: Rounds) -> None:
    out = tmp_path / "out"
    with pytest.raises(BadInput, match="no such folder"):
        write_follow_up(out, tmp_path / "nowhere", months=12, seed=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"no cohort\.json.*--out folder of an earlier"):
        write_follow_up(out, tmp_path / "empty", months=12, seed=1)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "cohort.json").write_text("{not json")
    with pytest.raises(BadInput, match=r"cohort\.json is not JSON"):
        write_follow_up(out, tmp_path / "junk", months=12, seed=1)
    second = round_cohorts[1]
    half = tmp_path / "half"
    half.mkdir()
    for name in ("cohort.json", "ground_truth.jsonl"):  # a follow-up without people.jsonl
        shutil.copy(second.root / name, half / name)
    with pytest.raises(BadInput, match=r"no people\.jsonl"):
        write_follow_up(out, half, months=12, seed=1)
    with pytest.raises(BadInput, match="prior cohort's folder"):
        write_follow_up(second.root, second.root, months=12, seed=1)
    with pytest.raises(BadInput, match="--months"):
        write_follow_up(out, second.root, months=0, seed=1)
    with pytest.raises(BadInput, match="--canary needs a prior"):
        write_follow_up(out, second.root, months=12, seed=1, canary=True)
    assert not out.exists()


def test_cli_writes_a_follow_up_and_refuses_bad_input(tmp_path: Path, capsys) -> None:
    from cli.main import main

    prior = tmp_path / "c"
    assert main(["synth", "--out", str(prior), "--studies", "2", "--regions", "1",
                 "--profile", "tiny", "--workers", "1"]) == 0
    assert main(["synth", "--out", str(tmp_path / "c2"), "--follow-up", str(prior),
                 "--months", "6", "--workers", "1"]) == 0
    assert "wrote 2 studies" in capsys.readouterr().out
    meta = json.loads((tmp_path / "c2" / "cohort.json").read_text())
    assert meta["round"] == 2 and meta["months"] == 6
    assert main(["synth", "--out", str(tmp_path / "x"), "--follow-up",
                 str(tmp_path / "nowhere"), "--months", "6"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "x"), "--follow-up", str(prior),
                 "--months", "6", "--studies", "3"]) == 2
    assert "--studies" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "x"), "--follow-up", str(prior)]) == 2
    assert "--months" in capsys.readouterr().err
