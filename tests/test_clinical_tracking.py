"""A nodule keeps its SR tracking UID from round to round: followed back through the person's
earlier screens in the store, under the same key only."""

from __future__ import annotations

from jobs.clinical.tracking import first_seen_uid, nodule_tracking_uids
from jobs.store import ResultsStore
from kernel.contract import Nodule, NoduleType
from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.rounds import NoduleReading, RoundReading

KEY = "k" * 16


def _result(study: str, nodules: int, reading: RoundReading | None = None,
            person: str = "p" * 16) -> StudyResult:
    return StudyResult(study * 16, person, "north", "a", "60-64", "F", Outcome.SCREENED,
                       "lung_nodule_detector", "1", category=Category.BENIGN,
                       nodules=tuple(Nodule(10 + i, 50, 60, 5.0, 5.0, NoduleType.SOLID, 0.9)
                                     for i in range(nodules)),
                       reading=reading)


def _read(prior: str, *prior_index: int | None) -> RoundReading:
    return RoundReading(None, tuple(
        NoduleReading(Change.NEW if i is None else Change.STABLE, Category.BENIGN,
                      prior_index=i) for i in prior_index), prior_study_pid=prior * 16)


def _store(tmp_path, campaigns):
    store = ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}")
    for campaign_id, fingerprint, results in campaigns:
        store.ensure_campaign(campaign_id, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1", key_fingerprint=fingerprint)
        store.commit_results(campaign_id, results)
    return store


def test_a_matched_nodule_keeps_the_uid_it_was_first_seen_with_over_three_rounds(tmp_path):
    one = _result("a", 2)
    two = _result("b", 3, _read("a", 1, None, 0))  # 1 and 0 of round one; one new
    three = _result("c", 2, _read("b", 2, 1))  # round one's 0 (via two's 2), two's new one
    with _store(tmp_path, [("r1", KEY, [one]), ("r2", KEY, [two]),
                           ("r3", KEY, [three])]) as store:
        uids = nodule_tracking_uids(store, "r3", {three.study_pid: three}, KEY)
        assert uids[three.study_pid] == (first_seen_uid(one, 0, KEY),
                                         first_seen_uid(two, 1, KEY))
        uids = nodule_tracking_uids(store, "r2", {two.study_pid: two}, KEY)
        assert uids[two.study_pid] == (first_seen_uid(one, 1, KEY), first_seen_uid(two, 1, KEY),
                                       first_seen_uid(one, 0, KEY))
        assert nodule_tracking_uids(store, "r1", {one.study_pid: one}, KEY) == {
            one.study_pid: (first_seen_uid(one, 0, KEY), first_seen_uid(one, 1, KEY))}
    assert len({first_seen_uid(one, 0, KEY), first_seen_uid(one, 1, KEY),
                first_seen_uid(two, 1, KEY), first_seen_uid(one, 0, "x" * 16)}) == 4


def test_a_prior_under_another_key_or_missing_is_not_followed(tmp_path):
    other = _result("a", 2)
    two = _result("b", 1, _read("a", 0))
    lost = _result("d", 1, _read("e", 0), person="q" * 16)  # its prior is not in the store
    with _store(tmp_path, [("r1", "o" * 16, [other]), ("r2", KEY, [two, lost])]) as store:
        uids = nodule_tracking_uids(store, "r2", {r.study_pid: r for r in (two, lost)}, KEY)
    assert uids == {two.study_pid: (first_seen_uid(two, 0, KEY),),
                    lost.study_pid: (first_seen_uid(lost, 0, KEY),)}

