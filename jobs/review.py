"""The reading worklist of a campaign, as readers review it (rules: kernel.worklist; storage:
jobs.store.worklist): drawing its tasks from the stored results, listing them with their
decisions, recording a reader's decision, and the confirmed results that recall and the SR
export follow.

Nothing here re-identifies anyone: tasks are study pseudonyms, and the listing holds AI and
reader categories and nodule sizes only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from jobs.report.agreement import ReadingAgreement, agreement_text, reading_agreement
from kernel.contract import NoduleType
from kernel.errors import BadInput
from kernel.lungrads import Category, categorize_nodule
from kernel.records import StudyResult
from kernel.worklist import (
    DEFAULT_FRACTION,
    DEFAULT_THRESHOLD,
    Action,
    ReaderDecision,
    ReadingTask,
    WorklistPlan,
    category_after_rejecting,
    select_tasks,
)

if TYPE_CHECKING:
    from jobs.store import ResultsStore

NODULE_TYPES = {NoduleType.SOLID: "solid", NoduleType.PART_SOLID: "part-solid",
                NoduleType.GROUND_GLASS: "ground-glass"}

__all__ = ["NODULE_TYPES", "TaskView", "WorklistView", "apply_confirmed", "decide", "draw_worklist",
           "view_worklist"]


@dataclass(frozen=True)
class TaskView:
    """A task as `lungscreen review` lists it: the task, its AI result's nodules and its
    confirmed decision (None: not decided yet)."""

    task: ReadingTask
    result: StudyResult | None
    decision: ReaderDecision | None

    def nodules_text(self) -> str:
        """The AI's nodules numbered as --nodule takes them, e.g. "1: solid 7.5 mm (3)"."""
        if self.result is None:
            return ""
        read = self.result.reading.nodules if self.result.reading is not None else ()
        return "; ".join(
            f"{i}: {NODULE_TYPES[n.type]} {n.diameter_mm:.1f} mm "
            f"({(read[i - 1].category if i <= len(read) else categorize_nodule(n)).value})"
            for i, n in enumerate(self.result.nodules, 1))


@dataclass(frozen=True)
class WorklistView:
    """A campaign's worklist: how it is drawn, the tasks, and the exact agreement figures."""

    plan: WorklistPlan
    added: int
    tasks: tuple[TaskView, ...]
    agreement: ReadingAgreement

    def summary(self) -> str:
        """The agreement figures as one line, exact (the listing shows every task anyway)."""
        return agreement_text(self.agreement)


def draw_worklist(store: ResultsStore, campaign_id: str, *, threshold: Category | None = None,
                  fraction: float | None = None, seed: int | None = None
                  ) -> tuple[WorklistPlan, int]:
    """Draw the campaign's tasks from its stored results and record the ones not recorded
    yet; (the plan, tasks added). The first draw records the plan (defaults: threshold 3,
    5% of negatives, a random seed); later draws use it, and an option that differs from
    it is BadInput. BadInput for an unknown campaign or an option out of range."""
    campaign = store.campaign(campaign_id)
    if campaign is None:
        known = ", ".join(c.id for c in store.campaigns()) or "none"
        raise BadInput(f"unknown campaign {campaign_id!r}; the store holds: {known}")
    recorded = store.worklist_plan(campaign_id)
    try:
        plan = WorklistPlan(
            threshold or (recorded.threshold if recorded else DEFAULT_THRESHOLD),
            fraction if fraction is not None else (
                recorded.fraction if recorded else DEFAULT_FRACTION),
            seed if seed is not None else (recorded.seed if recorded else
                                           secrets.randbelow(2**31)))
    except ValueError as exc:
        raise BadInput(f"worklist: {exc}") from None
    results = (r for r in store.results(campaign_id)
               if r.model_version == campaign.model_version)
    added = store.record_worklist(campaign_id, plan, list(select_tasks(results, plan)))
    return plan, added


def view_worklist(store: ResultsStore, campaign_id: str, *, threshold: Category | None = None,
                  fraction: float | None = None, seed: int | None = None) -> WorklistView:
    """Draw (as `draw_worklist`, with its options) and list the campaign's tasks, the most
    suspicious AI category first."""
    plan, added = draw_worklist(store, campaign_id, threshold=threshold, fraction=fraction,
                                seed=seed)
    tasks = store.reading_tasks(campaign_id)
    confirmed = store.confirmed(campaign_id)
    results = _results_of(store, campaign_id, tasks)
    views = tuple(TaskView(t, results.get(t.study_pid), confirmed.get(t.study_pid))
                  for t in sorted(tasks, key=lambda t: (-t.ai_category.rank, t.study_pid)))
    return WorklistView(plan, added, views,
                        reading_agreement(tasks, confirmed, min_cell=1))


def decide(store: ResultsStore, campaign_id: str, study: str, action: Action, *, reader: str,
           category: Category | None = None, nodules: Sequence[int] = ()) -> ReaderDecision:
    """Record a reader's decision on the task of `study` (its pseudonym, or a unique prefix
    of at least 8 characters): `confirm` the AI category, `change` it to `category`, or
    `reject_finding` of `nodules` (the category of what remains, or `category` when given).
    BadInput for an unknown task, a missing or unexpected option, or an unknown nodule."""
    tasks = store.reading_tasks(campaign_id)
    task = _find(tasks, study, campaign_id)
    if action is Action.CONFIRM:
        if category is not None or nodules:
            raise BadInput("confirm keeps the AI category; use change --category or "
                           "reject-finding --nodule instead")
        chosen = task.ai_category
    elif action is Action.CHANGE:
        if category is None:
            raise BadInput("change needs --category (0, 1, 2, 3, 4A, 4B or 4X)")
        if nodules:
            raise BadInput("change takes no --nodule; use reject-finding for that")
        chosen = category
    else:
        if not nodules:
            raise BadInput("reject-finding needs --nodule N (one or more, as listed)")
        result = _results_of(store, campaign_id, [task]).get(task.study_pid)
        if result is None:
            raise BadInput(f"the result of study {task.study_pid} is not in the store")
        try:
            remaining = category_after_rejecting(result, nodules)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        chosen = category if category is not None else remaining
    return store.record_decision(campaign_id, task.study_pid, action=action, category=chosen,
                                 reader=reader, rejected=sorted(set(nodules)))


def apply_confirmed(results: Iterable[StudyResult], confirmed: Mapping[str, ReaderDecision],
                    *, confirmed_only: bool = False) -> list[StudyResult]:
    """`results` as readers confirmed them: a decided study takes its confirmed category
    and loses the nodules its reader rejected; an undecided one is as the AI stored it, or
    left out with `confirmed_only`."""
    out = []
    for r in results:
        d = confirmed.get(r.study_pid)
        if d is None:
            if not confirmed_only:
                out.append(r)
            continue
        kept = tuple(n for i, n in enumerate(r.nodules, 1) if i not in d.rejected)
        out.append(replace(r, category=d.category, nodules=kept))
    return out


def _find(tasks: Sequence[ReadingTask], study: str, campaign_id: str) -> ReadingTask:
    exact = [t for t in tasks if t.study_pid == study]
    found = exact or ([t for t in tasks if t.study_pid.startswith(study)]
                      if len(study) >= 8 else [])
    if len(found) == 1:
        return found[0]
    what = "matches several tasks" if found else "is not a reading task"
    raise BadInput(f"study {study!r} {what} of campaign {campaign_id!r}; `lungscreen review "
                   f"{campaign_id}` lists the tasks (a unique prefix of 8 or more will do)")


def _results_of(store: ResultsStore, campaign_id: str, tasks: Iterable[ReadingTask]
                ) -> dict[str, StudyResult]:
    wanted = {(t.study_pid, t.model_version) for t in tasks}
    return {r.study_pid: r for r in store.results(campaign_id)
            if (r.study_pid, r.model_version) in wanted}
