"""The reading worklist's rules and records: which screens a reader must read before anyone
is recalled, and what a reader decided. No PHI: tasks are study pseudonyms.

A screened study becomes a reading task when

- its AI category is at or above the worklist's threshold (default 3, as Germany's second
  read at Lung-RADS >= 3): reason `threshold`;
- its AI category is 0 (lungs not fully covered: the model could not grade it), whatever
  the threshold: reason `incomplete` (it is on the technical recall list as a manual read
  too; a reader's category decides whether it is recalled);
- it is an AI negative (below the threshold) picked by the random sample (default 5%, as
  the Yorkshire trial reviewed 5% of CAD negatives): reason `sampled`.

The sample is a keyed hash, not an RNG stream: a study is picked when SHA-256 of
(seed, study pseudonym), read as a fraction of 2**64, is below the fraction. The same seed
picks the same studies whatever else the campaign holds, so a resumed or extended campaign
keeps its earlier picks, and anyone holding the seed can check the sample.

A decision is appended, never changed; the latest decision of a task is its confirmed
result. `confirm` keeps the AI category, `change` sets another, `reject_finding` rejects
nodules (1-based, as the task lists them) and sets the category of what remains (or the
category the reader gives).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kernel.lungrads import Category, categorize_nodule
from kernel.records import Outcome, StudyResult

__all__ = ["DEFAULT_FRACTION", "DEFAULT_THRESHOLD", "Action", "ReaderDecision", "ReadingTask",
           "TaskReason", "WorklistPlan", "category_after_rejecting", "is_sampled",
           "select_tasks"]

DEFAULT_THRESHOLD = Category.PROBABLY_BENIGN
DEFAULT_FRACTION = 0.05


class TaskReason(StrEnum):
    THRESHOLD = "threshold"
    INCOMPLETE = "incomplete"
    SAMPLED = "sampled"


class Action(StrEnum):
    CONFIRM = "confirm"
    CHANGE = "change"
    REJECT_FINDING = "reject_finding"


@dataclass(frozen=True)
class WorklistPlan:
    """How a campaign's worklist is drawn, recorded once so the sample is reproducible."""

    threshold: Category
    fraction: float
    seed: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"sample fraction {self.fraction} is outside 0..1")
        if self.threshold is Category.INCOMPLETE:
            raise ValueError("threshold 0 would make every screen a task; give 1 to 4X")
        if not 0 <= self.seed < 2**31:
            raise ValueError(f"sample seed {self.seed} is outside 0..2147483647")

    def describe(self) -> str:
        """e.g. "threshold 3, 5% of negatives sampled with seed 7"."""
        return (f"threshold {self.threshold.value}, {100 * self.fraction:g}% of negatives "
                f"sampled with seed {self.seed}")


@dataclass(frozen=True)
class ReadingTask:
    """A screen a reader must read: its pseudonym, the AI's category and why it is a task."""

    study_pid: str
    model_version: str
    ai_category: Category
    reason: TaskReason


@dataclass(frozen=True)
class ReaderDecision:
    """One decision on a task, as stored (append-only); `category` is the confirmed one."""

    decision_id: int
    study_pid: str
    action: Action
    category: Category
    reader: str
    decided_at: datetime
    rejected: tuple[int, ...] = ()  # nodules rejected (1-based)


def is_sampled(study_pid: str, seed: int, fraction: float) -> bool:
    """Whether the sample of `seed` at `fraction` picks `study_pid` (see the module doc)."""
    digest = hashlib.sha256(f"lungscreen-worklist:{seed}:{study_pid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def select_tasks(results: Iterable[StudyResult], plan: WorklistPlan) -> Iterator[ReadingTask]:
    """The reading tasks among `results` (screened ones only; quarantined and opted-out
    studies are the technical recall's), in the order given."""
    for r in results:
        if r.outcome is not Outcome.SCREENED or r.category is None:
            continue
        if r.category is Category.INCOMPLETE:
            reason = TaskReason.INCOMPLETE
        elif r.category.rank >= plan.threshold.rank:
            reason = TaskReason.THRESHOLD
        elif is_sampled(r.study_pid, plan.seed, plan.fraction):
            reason = TaskReason.SAMPLED
        else:
            continue
        yield ReadingTask(r.study_pid, r.model_version, r.category, reason)


def category_after_rejecting(result: StudyResult, rejected: Iterable[int]) -> Category:
    """The category of `result` with nodules `rejected` (1-based) taken out: its worst
    remaining nodule's (as read against the prior when it was), 1 when none remains.
    ValueError for a nodule number the result does not have."""
    gone = set(rejected)
    bad = sorted(n for n in gone if not 1 <= n <= len(result.nodules))
    if bad:
        raise ValueError(f"nodule {bad[0]} is not one of the study's {len(result.nodules)} "
                         "nodules (numbered from 1 as `lungscreen review ID` lists them)")
    read = result.reading.nodules if result.reading is not None else ()
    worst = Category.NEGATIVE
    for i, n in enumerate(result.nodules):
        if i + 1 in gone:
            continue
        c = read[i].category if i < len(read) else categorize_nodule(n)
        worst = c if c.rank > worst.rank else worst
    return worst
