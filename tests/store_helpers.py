"""Helpers for results-store tests: plans and results built from synthetic pseudonyms."""

from __future__ import annotations

import hashlib
import os

from jobs.run.planning import plan_shards
from jobs.spec.state import default_state_dir
from jobs.store import AuditKey, TokenKey
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category
from kernel.plans import ShardPlan
from kernel.records import Outcome, StudyRecord, StudyResult


def audit_key() -> AuditKey:
    """The test session's audit key (in its state folder, tests/conftest.py)."""
    return AuditKey.load(default_state_dir(os.environ))


def token_key() -> TokenKey:
    """The test session's token key (the service's, in the session's state folder)."""
    return TokenKey.load(default_state_dir(os.environ), create=True)


def pid(kind: str, i: int) -> str:
    return hashlib.sha256(f"{kind}{i}".encode()).hexdigest()[:20]


def records(n: int, regions: tuple[str, ...] = ("north", "south")) -> list[StudyRecord]:
    return [
        StudyRecord(
            study_pid=pid("s", i),
            patient_pid=pid("p", i // 2),
            region=regions[i % len(regions)],
            site=f"site-{i % 3:012x}",
            age_band=("50-54", "60-64", "70-74")[i % 3],
            sex=("F", "M")[i % 2],
            slice_count=150,
            spacing=(1.0, 0.7, 0.7),
        )
        for i in range(n)
    ]


def plan(n: int, shard_size: int = 4) -> list[ShardPlan]:
    return list(plan_shards(records(n), shard_size))


def result_for(study_pid: str, region: str, *, version: str = "1") -> StudyResult:
    n = int(study_pid[:4], 16)
    nodules = (Nodule(10.0, 20.5, 30.25, 7.5, 7.5, NoduleType.SOLID, 0.9),) if n % 3 == 0 else ()
    return StudyResult(
        study_pid=study_pid,
        patient_pid="p" + study_pid[:19],
        region=region,
        site="site-000000000001",
        age_band="60-64",
        sex="F",
        outcome=Outcome.SCREENED,
        model_name="lung_nodule_detector",
        model_version=version,
        category=Category.PROBABLY_BENIGN if nodules else Category.NEGATIVE,
        nodules=nodules,
        timings={"load": 0.25, "infer": 1.5, "postprocess": 0.01},
    )


def results_for(shard: ShardPlan, *, version: str = "1") -> list[StudyResult]:
    return [result_for(p, shard.region, version=version) for p in shard.study_pids]
