"""Helpers for reading-worklist tests: a campaign's results committed straight into a store
(no campaign run), with the categories a test names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jobs.store import ResultsStore
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from tests.store_helpers import audit_key, pid, result_for

# a nodule per category that Lung-RADS puts there (kernel.lungrads)
NODULES = {
    Category.BENIGN: (Nodule(5, 5, 5, 4.0, 4.0, NoduleType.SOLID, 0.6),),
    Category.PROBABLY_BENIGN: (Nodule(5, 5, 5, 7.0, 7.0, NoduleType.SOLID, 0.7),),
    Category.SUSPICIOUS_4A: (Nodule(5, 5, 5, 9.0, 9.0, NoduleType.SOLID, 0.8),
                             Nodule(9, 9, 9, 4.0, 4.0, NoduleType.SOLID, 0.5)),
    Category.VERY_SUSPICIOUS_4B: (Nodule(5, 5, 5, 16.0, 16.0, NoduleType.SOLID, 0.9),),
}


def study(i: int, category: Category | None, *, outcome: Outcome = Outcome.SCREENED
          ) -> StudyResult:
    """Result number `i` with `category` and nodules that give it."""
    base = result_for(pid("s", i), ("north", "south")[i % 2])
    return replace(base, outcome=outcome, category=category,
                   nodules=NODULES.get(category, ()) if category else ())


def fill(url: str, campaign_id: str, results: Sequence[StudyResult]) -> None:
    """A campaign holding `results` (committed outside shards, as selection settles some)."""
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        store.ensure_campaign(campaign_id, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results(campaign_id, results)
