"""Screening rounds of the varied family: the same people rescanned, their nodules linked to
their priors in synth's truth format, and the rounds read by `model evaluate-rounds`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from scipy import ndimage

from cli.main import main
from jobs.ingest.cases import cohort_cases
from kernel.errors import BadInput
from synth.rounds import add_months
from synth_varied import write_varied_cohort, write_varied_follow_up
from synth_varied.prior import read_varied_prior
from synth_varied.revisit import render_visit
from synth_varied.round_plan import plan_varied_round
from tests.cohorts import moved_as_documented

# a field of view wide enough for every body (the lung box needs the lungs inside it)
TEST = {"thickness": 2.5, "matrix": 256, "pixel": 1.4}
SHARES = {"new_share": 0.34, "missing_share": 0.34, "unavailable_share": 0.34}


class Round:
    """A cohort folder, read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = json.loads((root / "cohort.json").read_text())
        self.truth = [json.loads(line) for line in
                      (root / "ground_truth.jsonl").read_text().splitlines()]

    def by_uid(self) -> dict[str, dict[str, Any]]:
        return {t["study_uid"]: t for t in self.truth}

    def pairs(self, prior: Round) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        before = prior.by_uid()
        return [(before[t["prior"]["study_uid"]], t) for t in self.truth if t["prior"]]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Round, Round]:
    root = tmp_path_factory.mktemp("varied-rounds")
    write_varied_cohort(root / "r1", studies=3, regions=2, seed=4, workers=1, acquisition=TEST)
    write_varied_follow_up(root / "r2", root / "r1", months=12, seed=8, workers=2, **SHARES)
    return Round(root / "r1"), Round(root / "r2")


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def _header(root: Path, uid: str) -> Any:
    for path in sorted((root / "dicom").rglob("*")):
        if path.is_file():
            ds = dcmread(path, stop_before_pixels=True)
            if ds.StudyInstanceUID == uid:
                return ds
    raise AssertionError(uid)


def test_the_same_people_come_back_months_later(rounds: tuple[Round, Round]) -> None:
    first, second = rounds
    pairs = second.pairs(first)
    assert len(pairs) == 3
    for before, after in pairs:
        for key in ("patient_id", "sex", "region", "site", "phantom_seed", "family"):
            assert after[key] == before[key], key
        assert _date(after["study_date"]) == add_months(_date(before["study_date"]), 12)
        assert after["prior"]["interval_days"] == (_date(after["study_date"])
                                                   - _date(before["study_date"])).days
        assert after["round"] == 2 and after["study_uid"] != before["study_uid"]
        a, b = _header(first.root, before["study_uid"]), _header(second.root, after["study_uid"])
        for field in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                      "OtherPatientIDs", "InstitutionName"):
            assert str(b.get(field)) == str(a.get(field)), field
        assert b.AccessionNumber != a.AccessionNumber and b.ClinicalTrialTimePointID == "2"


def _agreement(was: np.ndarray, after: np.ndarray, truth: dict[str, Any],
               points: np.ndarray) -> tuple[float, float]:
    """Correlation of the prior's values `was` with the follow-up `after` at LPS `points`:
    inside the body (no padding), and in the prior's lungs."""
    vox = ((points - np.asarray(truth["first_slice_lps_mm"]))
           / np.asarray(truth["spacing"])[::-1])[..., ::-1]
    seen = ndimage.map_coordinates(after, np.moveaxis(vox, -1, 0), order=1, cval=-1000.0)
    body = (was > -1010) & (seen > -1010) & (was < 500) & (seen < 500)
    lung = body & (was < -300)
    return (float(np.corrcoef(seen[body], was[body])[0, 1]),
            float(np.corrcoef(seen[lung], was[lung])[0, 1]))


def test_the_anatomy_is_the_priors_up_to_the_recorded_pose(rounds: tuple[Round, Round]) -> None:
    """The prior's voxels, moved by the truth's repositioning, land on the same tissue in the
    follow-up: the lungs (vessels, fissures, airways) agree far better posed than not."""
    first, second = rounds
    volumes = [{c.name: c.hu.astype(np.float32) for c in cohort_cases(r.root)}
               for r in (first, second)]
    firsts = first.by_uid()
    for t in second.truth:
        if t["prior"] is None:
            continue
        p = firsts[t["prior"]["study_uid"]]
        before = ndimage.gaussian_filter(volumes[0][f"study-{p['index']}"], 1.0)
        after = ndimage.gaussian_filter(volumes[1][f"study-{t['index']}"], 1.0)
        lo, hi = p["lung_z_range"]
        k, j, i = np.mgrid[lo:hi:3, 20:before.shape[1] - 20:6, 20:before.shape[2] - 20:6]
        lps = (np.asarray(p["first_slice_lps_mm"])
               + np.stack([i, j, k], -1) * np.asarray(p["spacing"])[::-1])
        was = before[k, j, i]
        body, lung = _agreement(was, after, t,
                                np.apply_along_axis(moved_as_documented, -1, lps, t["acquisition"]))
        _, unposed = _agreement(was, after, t, lps)
        assert body > 0.93 and lung > 0.7, t["index"]
        assert lung > unposed + 0.05, t["index"]  # the recorded pose is what lines them up


def test_nodules_are_linked_grown_resolved_or_new(rounds: tuple[Round, Round]) -> None:
    first, second = rounds
    for before, after in second.pairs(first):
        where = {n["nodule_id"]: n for n in before["nodules"]}
        linked = [n["prior_nodule_id"] for n in after["nodules"] if n["prior_nodule_id"]]
        gone = [r["nodule_id"] for r in after["resolved"] + after["unseen"]]
        assert sorted(linked + gone) == sorted(where)
        for n in after["nodules"]:
            if n["prior_nodule_id"] is None:
                assert n["change"] == "new" and n["growth_mm"] is None
                assert n["prior_diameter_mm"] is None and n["prior_solid_diameter_mm"] is None
                continue
            was = where[n["prior_nodule_id"]]
            assert n["nodule_id"] == was["nodule_id"] and n["type"] == was["type"]
            assert n["prior_diameter_mm"] == was["diameter_mm"]
            assert n["diameter_mm"] == pytest.approx(n["prior_diameter_mm"] + n["growth_mm"])
            expected = ("grown" if n["growth_mm"] > 0.3 else
                        "smaller" if n["growth_mm"] < -0.3 else "stable")
            assert n["change"] == expected
            moved = moved_as_documented(was["centre_lps_mm"], after["acquisition"])
            assert np.abs(moved - n["centre_lps_mm"]).max() < 1.0
        for r in after["resolved"]:
            assert r["centre_lps_mm"] == where[r["nodule_id"]]["centre_lps_mm"]
    growth = [n["growth_mm"] for t in second.truth for n in t["nodules"] if n["growth_mm"]]
    assert any(g > 1.5 for g in growth) and any(0.3 < g <= 1.5 for g in growth)
    assert any(n["change"] == "new" for t in second.truth for n in t["nodules"])
    assert any(t["resolved"] for t in second.truth)
    counts = second.meta["changes"]
    assert counts["resolved"] == sum(len(t["resolved"]) for t in second.truth)
    assert counts["new"] == sum(n["change"] == "new" for t in second.truth for n in t["nodules"])


def test_measured_growth_lies_in_the_planned_band(rounds: tuple[Round, Round]) -> None:
    first, second = rounds
    plans = plan_varied_round(read_varied_prior(first.root), seed=8, months=12, **SHARES)
    growth = {n["nodule_id"]: n["growth_mm"] for t in second.truth for n in t["nodules"]}
    fates = [f for s in plans if s.visit for f in s.visit.fates if f.nodule_id in growth]
    assert fates
    for f in fates:
        assert f.band[0] <= growth[f.nodule_id] <= f.band[1], f


def test_newcomers_missing_priors_and_priors_without_pixels(rounds: tuple[Round, Round]) -> None:
    first, second = rounds
    fresh = [t for t in second.truth if t["prior"] is None]
    known = {t["patient_id"] for t in first.truth}
    assert [t["prior_expected"] for t in fresh] == [False, True]
    assert [t["round"] for t in fresh] == [1, 2]
    for t in fresh:
        assert t["patient_id"] not in known and t["acquisition"]["shift_mm"] is None
        assert all(n["change"] == "new" for n in t["nodules"])
    lost = [t["prior"]["study_uid"] for t in second.truth
            if t["prior"] and not t["prior"]["pixels_available"]]
    assert len(lost) == 1 and second.meta["priors_without_pixels"] == lost
    assert second.meta["new_entrants"] == 1 and second.meta["prior_missing"] == 1
    assert second.meta["family"] == "varied" and second.meta["round"] == 2
    assert second.meta["follow_up_of"]["args"] == first.meta["args"]


def test_a_visit_renders_the_same_for_its_seed(rounds: tuple[Round, Round]) -> None:
    prior = read_varied_prior(rounds[0].root)
    visit = plan_varied_round(prior, seed=8, months=12, **SHARES)[0].visit
    other = plan_varied_round(prior, seed=9, months=12, **SHARES)[0].visit
    assert visit is not None and other is not None
    assert visit.reposition != other.reposition
    once, again = render_visit(visit), render_visit(visit)
    assert np.array_equal(once.study.hu, again.study.hu)
    assert once.study.nodules == again.study.nodules


def test_evaluate_rounds_matches_nodules_to_their_priors(rounds: tuple[Round, Round],
                                                          tmp_path: Path, capsys) -> None:
    first, second = rounds
    out = tmp_path / "figures.json"
    assert main(["model", "evaluate-rounds", str(first.root), str(second.root), "--oracle",
                 "--out", str(out)]) == 0
    assert "rounds: 3 + 5 studies, truth (oracle)" in capsys.readouterr().out
    figures = json.loads(out.read_text())
    matched = figures["matched"]
    assert matched["of"] >= 1 and matched["hits"] == matched["of"]
    assert figures["agreement"]["hits"] == figures["agreement"]["of"] == 5


def test_a_follow_up_of_a_follow_up(rounds: tuple[Round, Round], tmp_path: Path) -> None:
    first, second = rounds
    write_varied_follow_up(tmp_path / "r3", second.root, months=24, seed=7, workers=2,
                           new_share=0.0, missing_share=0.0, unavailable_share=0.0)
    third = Round(tmp_path / "r3")
    assert third.meta["round"] == 3 and third.meta["months"] == 24
    assert third.meta["follow_up_of"]["follow_up_of"]["args"] == first.meta["args"]
    ids = {n["nodule_id"] for t in first.truth for n in t["nodules"]}
    for before, after in third.pairs(second):
        assert after["patient_id"] == before["patient_id"]
        assert after["round"] == before["round"] + 1
        assert _date(after["study_date"]) == add_months(_date(before["study_date"]), 24)
        linked = [n["prior_nodule_id"] for n in after["nodules"] if n["prior_nodule_id"]]
        gone = [r["nodule_id"] for r in after["resolved"] + after["unseen"]]
        assert sorted(linked + gone) == sorted(n["nodule_id"] for n in before["nodules"])
    assert any(n["nodule_id"] in ids for t in third.truth for n in t["nodules"])


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_cli_picks_the_priors_family(tmp_path: Path, capsys) -> None:
    write_varied_cohort(tmp_path / "c", studies=1, regions=1, seed=50, workers=1,
                        acquisition=TEST)
    before = _digest(tmp_path / "c")
    assert main(["synth", "--out", str(tmp_path / "c2"), "--follow-up", str(tmp_path / "c"),
                 "--months", "6", "--workers", "1"]) == 0
    assert "wrote 1 studies" in capsys.readouterr().out
    meta = json.loads((tmp_path / "c2" / "cohort.json").read_text())
    assert meta["family"] == "varied" and meta["round"] == 2 and meta["months"] == 6
    assert meta["args"]["acquisition"] == TEST
    people = (tmp_path / "c2" / "people.jsonl").read_text().splitlines()
    assert len(people) == 1 and json.loads(people[0])["family"] == "varied"
    assert _digest(tmp_path / "c") == before  # the prior is left as it was


def test_a_bad_prior_or_bad_arguments_are_refused(rounds: tuple[Round, Round],
                                                  tmp_path: Path) -> None:
    first, second = rounds
    out = tmp_path / "out"
    with pytest.raises(BadInput, match="--months must be between 1 and 120"):
        write_varied_follow_up(out, first.root, months=0, seed=1)
    with pytest.raises(BadInput, match="prior cohort's folder or inside it"):
        write_varied_follow_up(first.root / "next", first.root, months=12, seed=1)
    with pytest.raises(BadInput, match="--canary needs a prior written with --canary"):
        write_varied_follow_up(out, first.root, months=12, seed=1, canary=True)
    half = tmp_path / "half"
    half.mkdir()
    for name in ("cohort.json", "ground_truth.jsonl"):  # a follow-up without people.jsonl
        shutil.copy(second.root / name, half / name)
    with pytest.raises(BadInput, match=r"no people\.jsonl.*--family varied"):
        write_varied_follow_up(out, half, months=12, seed=1)
    with pytest.raises(BadInput, match="no such folder"):
        write_varied_follow_up(out, tmp_path / "nowhere", months=12, seed=1)
    assert not out.exists()
