"""The reading worklist in the store (kernel.worklist): how a campaign's tasks are drawn,
the tasks, and readers' decisions. All appended, never changed, and never written into the
results: the AI's result stays as the campaign committed it, and a task's latest decision
is its confirmed result. Each draw that adds tasks and each decision is audited in the same
transaction (ids and counts, no PHI).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from jobs.store import schema as t
from jobs.store.base import StoreBase, utc_now
from jobs.store.engine import mapped_errors
from jobs.store.rows import as_utc
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.worklist import Action, ReaderDecision, ReadingTask, TaskReason, WorklistPlan

__all__ = ["Worklist"]


class Worklist(StoreBase):
    """The reading worklist: plans, tasks and decisions (see the module doc)."""

    def worklist_plan(self, campaign_id: str) -> WorklistPlan | None:
        """How the campaign's worklist is drawn; None before it first was."""
        with mapped_errors(self._url, "reading the worklist"), self._engine.connect() as conn:
            return self._plan(conn, campaign_id)

    def record_worklist(self, campaign_id: str, plan: WorklistPlan,
                        tasks: Sequence[ReadingTask]) -> int:
        """Record `plan` (the first time; afterwards it must be the recorded one) and the
        tasks not recorded yet; how many tasks were new. BadInput for an unknown campaign
        or a plan other than the recorded one."""
        with self.write_transaction("recording the worklist") as conn:
            if self._campaign(conn, campaign_id) is None:
                raise self._unknown(conn, campaign_id)
            now = utc_now()
            new_plan = self._insert_ignore(conn, t.worklists, [{
                "campaign_id": campaign_id, "threshold": plan.threshold.value,
                "fraction": plan.fraction, "seed": plan.seed, "created_at": now}])
            recorded = self._plan(conn, campaign_id)
            if recorded != plan:
                was = recorded.describe() if recorded else "nothing"
                raise BadInput(f"campaign {campaign_id}'s worklist is drawn with {was}; it "
                               f"cannot be drawn again with {plan.describe()}: leave "
                               "--threshold, --sample and --seed out")
            added = self._insert_ignore(conn, t.reading_tasks, [
                {"campaign_id": campaign_id, "study_pid": task.study_pid,
                 "model_version": task.model_version, "ai_category": task.ai_category.value,
                 "reason": task.reason.value, "created_at": now} for task in tasks])
            if added or new_plan:
                self._audit(conn, campaign_id, "worklist_drawn", {
                    "added": added, "threshold": plan.threshold.value,
                    "fraction": plan.fraction, "seed": plan.seed})
            return added

    def reading_tasks(self, campaign_id: str) -> list[ReadingTask]:
        """The campaign's tasks, by study pseudonym."""
        c = t.reading_tasks.c
        q = select(t.reading_tasks).where(c.campaign_id == campaign_id).order_by(c.study_pid)
        with mapped_errors(self._url, "reading the worklist"), self._engine.connect() as conn:
            return [_task(row._mapping) for row in conn.execute(q)]

    def record_decision(self, campaign_id: str, study_pid: str, *, action: Action,
                        category: Category, reader: str, rejected: Sequence[int] = ()
                        ) -> ReaderDecision:
        """Append a reader's decision on the task of `study_pid` and audit it; the decision
        as stored. BadInput when the study is not a task of the campaign."""
        c = t.reading_tasks.c
        with self.write_transaction("recording a reading decision") as conn:
            found = conn.execute(select(c.study_pid).where(
                c.campaign_id == campaign_id, c.study_pid == study_pid)).first()
            if found is None:
                raise BadInput(f"study {study_pid!r} is not a reading task of campaign "
                               f"{campaign_id!r}; `lungscreen review {campaign_id}` lists them")
            row = {"campaign_id": campaign_id, "study_pid": study_pid, "action": action.value,
                   "category": category.value, "rejected": json.dumps(sorted(rejected)),
                   "reader": reader[:128], "decided_at": utc_now()}
            new_id = conn.execute(insert(t.reading_decisions).returning(
                t.reading_decisions.c.id), row).scalar_one()
            detail = {"who": row["reader"], "decision": int(new_id), "study": study_pid,
                      "action": action.value, "category": category.value,
                      "rejected": len(rejected)}
            if self._operator:  # who ran it, when the reader is named apart
                detail["operator"] = self._operator
            self._audit(conn, campaign_id, "reading_decision", detail)
        return _decision({**row, "id": new_id})

    def decisions(self, campaign_id: str) -> list[ReaderDecision]:
        """Every decision of the campaign, oldest first."""
        c = t.reading_decisions.c
        q = select(t.reading_decisions).where(c.campaign_id == campaign_id).order_by(c.id)
        with mapped_errors(self._url, "reading decisions"), self._engine.connect() as conn:
            return [_decision(row._mapping) for row in conn.execute(q)]

    def confirmed(self, campaign_id: str) -> dict[str, ReaderDecision]:
        """Each decided task's confirmed result: its latest decision, by study pseudonym."""
        return {d.study_pid: d for d in self.decisions(campaign_id)}

    def _plan(self, conn: Connection, campaign_id: str) -> WorklistPlan | None:
        row = conn.execute(select(t.worklists).where(
            t.worklists.c.campaign_id == campaign_id)).first()
        if row is None:
            return None
        m = row._mapping
        return WorklistPlan(Category(m["threshold"]), float(m["fraction"]), int(m["seed"]))


def _task(m: Any) -> ReadingTask:
    return ReadingTask(m["study_pid"], m["model_version"], Category(m["ai_category"]),
                       TaskReason(m["reason"]))


def _decision(m: Any) -> ReaderDecision:
    return ReaderDecision(int(m["id"]), m["study_pid"], Action(m["action"]),
                          Category(m["category"]), m["reader"], as_utc(m["decided_at"]),
                          tuple(json.loads(m["rejected"])))
