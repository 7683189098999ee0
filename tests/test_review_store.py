"""The reading worklist in the store (jobs.store.worklist, jobs.review): the plan recorded
once, tasks appended, decisions appended beside the AI result (never changing it), the
latest decision confirmed, each audited; and a store made before the worklist migrates."""

from __future__ import annotations

import sqlite3

import pytest

from jobs.review import apply_confirmed, decide, draw_worklist, view_worklist
from jobs.store import ResultsStore
from jobs.store import schema as t
from jobs.store.roles import role_grants
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.worklist import Action, TaskReason
from tests.review_helpers import fill, study
from tests.store_helpers import audit_key

CAMPAIGN = "review-store"
CATEGORIES = [Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4A, Category.PROBABLY_BENIGN,
              Category.INCOMPLETE] + [Category.NEGATIVE] * 40 + [Category.BENIGN] * 40


@pytest.fixture
def filled(store_url):
    results = [study(i, c) for i, c in enumerate(CATEGORIES)]
    fill(store_url, CAMPAIGN, results)
    return store_url, {r.study_pid: r for r in results}


def test_tasks_are_drawn_once_with_a_recorded_plan(filled):
    url, _ = filled
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        plan, added = draw_worklist(store, CAMPAIGN, fraction=0.25, seed=3)
        tasks = store.reading_tasks(CAMPAIGN)
        assert added == len(tasks) and store.worklist_plan(CAMPAIGN) == plan
        reasons = {task.study_pid: task.reason for task in tasks}
        by_reason = {r: sum(v is r for v in reasons.values()) for r in TaskReason}
        assert by_reason[TaskReason.THRESHOLD] == 3 and by_reason[TaskReason.INCOMPLETE] == 1
        assert 8 <= by_reason[TaskReason.SAMPLED] <= 35  # 25% of 80 negatives
        # a later draw takes the recorded plan: nothing new, the same tasks
        assert draw_worklist(store, CAMPAIGN) == (plan, 0)
        with pytest.raises(BadInput, match=r"seed 3.*seed 4"):
            draw_worklist(store, CAMPAIGN, seed=4)
        assert store.reading_tasks(CAMPAIGN) == tasks
        events = [e for e in store.events(CAMPAIGN) if e.kind == "worklist_drawn"]
        assert [(e.detail["added"], e.detail["seed"], e.detail["fraction"]) for e in events] == [
            (len(tasks), 3, 0.25)]
        with pytest.raises(BadInput, match="unknown campaign"):
            draw_worklist(store, "nope")


def test_decisions_are_appended_beside_the_result_and_the_latest_is_confirmed(filled):
    url, results = filled
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        draw_worklist(store, CAMPAIGN, fraction=0.0, seed=1)
        before = sorted(store.results(CAMPAIGN), key=lambda r: r.study_pid)
        four_a = next(p for p, r in results.items() if r.category is Category.SUSPICIOUS_4A)
        first = decide(store, CAMPAIGN, four_a, Action.CONFIRM, reader="dr-a")
        assert first.category is Category.SUSPICIOUS_4A
        second = decide(store, CAMPAIGN, four_a[:8], Action.REJECT_FINDING, reader="dr-b",
                        nodules=[1])
        assert (second.category, second.rejected) == (Category.BENIGN, (1,))
        third = decide(store, CAMPAIGN, four_a, Action.CHANGE, reader="dr-c",
                       category=Category.VERY_SUSPICIOUS_4B)
        assert [d.decision_id for d in store.decisions(CAMPAIGN)] == [
            first.decision_id, second.decision_id, third.decision_id]
        assert store.confirmed(CAMPAIGN) == {four_a: third}
        # the AI result is as the campaign committed it
        assert sorted(store.results(CAMPAIGN), key=lambda r: r.study_pid) == before
        confirmed = apply_confirmed(before, store.confirmed(CAMPAIGN))
        assert {r.study_pid: r.category for r in confirmed}[four_a] is Category.VERY_SUSPICIOUS_4B
        assert [r.study_pid for r in apply_confirmed(before, store.confirmed(CAMPAIGN),
                                                     confirmed_only=True)] == [four_a]
        events = [e for e in store.events(CAMPAIGN) if e.kind == "reading_decision"]
        assert [(e.detail["who"], e.detail["decision"], e.detail["action"],
                 e.detail["category"], e.detail["rejected"]) for e in events] == [
            ("dr-a", first.decision_id, "confirm", "4A", 0),
            ("dr-b", second.decision_id, "reject_finding", "2", 1),
            ("dr-c", third.decision_id, "change", "4B", 0)]
        assert all(e.detail["study"] == four_a for e in events)
        assert store.verify_trail().ok


def test_a_decision_on_no_task_or_with_the_wrong_options_is_refused(filled):
    url, results = filled
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        draw_worklist(store, CAMPAIGN, fraction=0.0, seed=1)
        tasks = {t.study_pid for t in store.reading_tasks(CAMPAIGN)}
        not_task = next(p for p in results if p not in tasks)
        task = sorted(tasks)[0]
        with pytest.raises(BadInput, match="not a reading task"):
            decide(store, CAMPAIGN, not_task, Action.CONFIRM, reader="r")
        with pytest.raises(BadInput, match="--category"):
            decide(store, CAMPAIGN, task, Action.CHANGE, reader="r")
        with pytest.raises(BadInput, match="--nodule"):
            decide(store, CAMPAIGN, task, Action.REJECT_FINDING, reader="r")
        with pytest.raises(BadInput, match="nodule 7"):
            decide(store, CAMPAIGN, task, Action.REJECT_FINDING, reader="r", nodules=[7])
        with pytest.raises(BadInput, match="not a reading task"):
            store.record_decision(CAMPAIGN, not_task, action=Action.CONFIRM,
                                  category=Category.NEGATIVE, reader="r")
        assert store.decisions(CAMPAIGN) == []


def test_the_listing_shows_numbered_nodules_and_exact_agreement(filled):
    url, _ = filled
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        view = view_worklist(store, CAMPAIGN, fraction=0.0, seed=1)
        four_a = next(v for v in view.tasks if v.task.ai_category is Category.SUSPICIOUS_4A)
        assert four_a.nodules_text() == "1: solid 9.0 mm (4A); 2: solid 4.0 mm (2)"
        decide(store, CAMPAIGN, four_a.task.study_pid, Action.CONFIRM, reader="r")
        again = view_worklist(store, CAMPAIGN)
        assert again.added == 0 and again.agreement.decided == 1 and again.agreement.tasks == 4


def test_a_store_made_before_the_worklist_is_migrated_by_store_init(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    fill(url, CAMPAIGN, [study(i, c) for i, c in enumerate(CATEGORIES[:6])])
    with sqlite3.connect(path) as db:  # as an older lungscreen left it
        for table in ("reading_decisions", "reading_tasks", "worklists"):
            db.execute(f"DROP TABLE {table}")
    with pytest.raises(BadInput, match="store init"):
        ResultsStore.open(url, create=False)
    with ResultsStore.open(url, audit_key=audit_key()) as store:  # `store init` does this
        assert len(list(store.results(CAMPAIGN))) == 6
        _, added = draw_worklist(store, CAMPAIGN, fraction=0.0, seed=1)
        assert added == 4
    with ResultsStore.open(url, create=False) as store:
        assert len(store.reading_tasks(CAMPAIGN)) == 4


def test_the_service_role_appends_decisions_and_changes_none():
    grants = role_grants("ls_driver", "ls_service")
    assert 'GRANT SELECT, INSERT ON reading_decisions TO "ls_service"' in grants
    assert 'GRANT USAGE ON SEQUENCE reading_decisions_id_seq TO "ls_service"' in grants
    assert not [g for g in grants if "reading" in g and ("UPDATE" in g or "DELETE" in g)]
    assert not [g for g in grants if "reading" in g and "ls_driver" in g and "GRANT" in g]
    assert {"worklists", "reading_tasks", "reading_decisions"} <= set(t.metadata.tables)
