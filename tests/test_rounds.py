"""Reading a screen against the person's prior: the lung box, matching in the lung-relative
frame, the reading's rules, the store round trip and finding priors (same key only)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jobs.rounds import lung_box, read_round
from jobs.rounds.matching import match
from jobs.rounds.priors import check_priors, find_priors
from jobs.store import ResultsStore
from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput
from kernel.followup import Change, PriorNodule
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from kernel.rounds import LungBox, PriorFinding, PriorScreen
from synth.phantom import make_phantom
from tests.store_helpers import audit_key

BOX = LungBox((10.0, 20.0, 30.0), (210.0, 220.0, 330.0))
SPACING = (2.0, 1.0, 1.0)


def at(rel: tuple[float, float, float], d: float, kind: NoduleType = NoduleType.SOLID
       ) -> Nodule:
    """A nodule at lung-relative `rel` in BOX (voxels of SPACING)."""
    mm = [BOX.low[a] + rel[a] * BOX.size[a] for a in range(3)]
    return Nodule(mm[0] / SPACING[0], mm[1] / SPACING[1], mm[2] / SPACING[2], d,
                  d if kind is NoduleType.SOLID else 0.0, kind, 0.9)


def prior_screen(*findings: tuple[tuple[float, float, float], float, str],
                 day: str = "2030-01-10") -> PriorScreen:
    return PriorScreen("round-1", "s-prior", day, Category.PROBABLY_BENIGN, tuple(
        PriorFinding(rel, PriorNodule(d, d, NoduleType.SOLID, Category.parse(cat)))
        for rel, d, cat in findings))


def test_the_lung_box_of_a_phantom_holds_its_nodules_and_moves_with_the_patient():
    ph = make_phantom(11, "small", n_nodules=3)
    box = lung_box(ph.hu, ph.spacing)
    assert box is not None
    for n in ph.nodules:
        rel = box.relative((n.z * ph.spacing[0], n.y * ph.spacing[1], n.x * ph.spacing[2]))
        assert all(-0.05 < r < 1.05 for r in rel), rel
    shifted = np.roll(ph.hu, 6, axis=2)  # the patient 6 voxels to the side
    moved = lung_box(shifted, ph.spacing)
    assert moved is not None
    assert moved.low[2] - box.low[2] == pytest.approx(6 * ph.spacing[2], abs=2 * 4.0)
    assert lung_box(np.full((20, 64, 64), 40, np.int16), (2.0, 2.0, 2.0)) is None  # no lungs


def test_matching_takes_the_nearest_pairs_within_reach():
    cur = [(0.5, 0.5, 0.2), (0.5, 0.5, 0.8), (0.1, 0.1, 0.1)]
    pri = [(0.51, 0.5, 0.8), (0.5, 0.49, 0.21), (0.9, 0.9, 0.9)]
    pairs = match(cur, [5.0, 5.0, 5.0], pri, [5.0, 5.0, 5.0], (200.0, 200.0, 300.0))
    assert pairs == {0: 1, 1: 0}  # the third of each is too far from anything
    assert match([], [], pri, [5.0] * 3, (1.0, 1.0, 1.0)) == {}


def test_a_stable_nodule_steps_down_a_new_one_is_new_and_a_missing_one_resolved():
    prior = prior_screen(((0.3, 0.4, 0.25), 7.0, "3"), ((0.7, 0.6, 0.75), 5.0, "2"))
    nodules = (at((0.31, 0.4, 0.25), 7.1), at((0.5, 0.2, 0.7), 5.0))
    reading, category = read_round(nodules, SPACING, BOX, prior, exam_day="2031-01-10",
                                   screening_round=2)
    assert [n.change for n in reading.nodules] == [Change.STABLE, Change.NEW]
    assert [n.category for n in reading.nodules] == [Category.BENIGN, Category.PROBABLY_BENIGN]
    assert category is Category.PROBABLY_BENIGN
    assert reading.resolved == 1 and reading.interval_days == 365
    assert reading.prior_study_pid == "s-prior" and reading.nodules[0].prior_diameter_mm == 7.0


def test_growth_over_the_interval_is_4a():
    prior = prior_screen(((0.3, 0.4, 0.25), 4.0, "2"))
    reading, category = read_round((at((0.3, 0.41, 0.25), 6.0),), SPACING, BOX, prior,
                                   exam_day="2031-01-10", screening_round=2)
    assert reading.nodules[0].change is Change.GROWN and category is Category.SUSPICIOUS_4A
    assert reading.nodules[0].first_diameter_mm == 4.0
    assert reading.nodules[0].days_since_first == 365


def test_without_a_prior_a_baseline_and_a_later_round_without_one_is_0():
    nodules = (at((0.3, 0.4, 0.25), 7.0),)
    base, category = read_round(nodules, SPACING, BOX, None, exam_day="", screening_round=1)
    assert base.nodules[0].change is Change.BASELINE and category is Category.PROBABLY_BENIGN
    assert not base.prior_missing and base.nodules[0].relative is not None
    missing, category = read_round(nodules, SPACING, BOX, None, exam_day="",
                                   screening_round=2)
    assert missing.prior_missing and category is Category.INCOMPLETE


@pytest.fixture
def store(store_url: str):
    with ResultsStore.open(store_url, audit_key=audit_key()) as s:
        yield s


def _record(person: str, day: str, study: str, rnd: int = 2) -> StudyRecord:
    return StudyRecord(study, person, "north", "site-a", "60-64", "F", exam_day=day,
                       screening_round=rnd)


def test_store_round_trip_and_finding_the_latest_earlier_screen(store: ResultsStore):
    for cid, fp in (("round-1", "f" * 16), ("round-2", "f" * 16), ("other-key", "e" * 16)):
        store.ensure_campaign(cid, spec_digest="d" * 64, model_name="m", model_version="1",
                              key_fingerprint=fp)
    nodules = (at((0.3, 0.4, 0.25), 7.0),)
    reading, category = read_round(nodules, SPACING, BOX, None, exam_day="2030-01-10",
                                   screening_round=1)
    first = StudyResult.from_record(_record("p1", "2030-01-10", "s1", 1),
                                    outcome=Outcome.SCREENED, model_name="m",
                                    model_version="1", category=category, nodules=nodules,
                                    reading=reading)
    later = dataclasses.replace(first, study_pid="s2", exam_day="2031-01-12")
    quarantined = StudyResult.from_record(_record("p2", "2030-02-01", "s3"),
                                          outcome=Outcome.QUARANTINED, model_name="m",
                                          model_version="1", reason=Reason.SLICE_GAP)
    store.commit_results("round-1", [first, quarantined])
    store.commit_results("round-2", [later])
    assert [r.reading for r in store.results("round-1") if r.study_pid == "s1"] == [reading]
    assert next(iter(store.results("round-1"))).exam_day in ("2030-01-10", "2030-02-01")

    now = [_record("p1", "2031-06-01", "n1"), _record("p1", "2030-06-01", "n2"),
           _record("p2", "2031-06-01", "n3"), _record("p3", "2031-06-01", "n4")]
    found = find_priors(store, ("round-1", "round-2"), now)
    assert found["n1"].study_pid == "s2"  # the latest before 2031-06-01
    assert found["n2"].study_pid == "s1"  # the latest before 2030-06-01
    assert "n3" not in found and "n4" not in found  # quarantined prior, no prior
    assert found["n1"].findings[0].relative == reading.nodules[0].relative
    assert found["n1"].findings[0].nodule.category is Category.PROBABLY_BENIGN

    check_priors(store, "round-3", ("round-1", "round-2"), "f" * 16)
    with pytest.raises(BadInput, match="another pseudonym key"):
        check_priors(store, "round-3", ("other-key",), "f" * 16)
    with pytest.raises(BadInput, match="not in this store"):
        check_priors(store, "round-3", ("nowhere",), "f" * 16)
    with pytest.raises(BadInput, match="this campaign"):
        check_priors(store, "round-1", ("round-1",), "f" * 16)
