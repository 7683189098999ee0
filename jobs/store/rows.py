"""Conversions between domain records and store rows (plain dicts). A result's grouping
dimensions (kernel.records.DIMENSIONS) are its columns of the same names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jobs.store.records import Campaign, CampaignState
from jobs.store.round_rows import reading_from_json, reading_to_json
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category
from kernel.plans import ShardPlan
from kernel.reasons import Reason
from kernel.records import DIMENSIONS, Outcome, StudyResult

__all__ = [
    "as_utc",
    "campaign_from_row",
    "result_from_row",
    "result_to_row",
    "shard_from_row",
    "shard_to_row",
]


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every time the store writes is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def shard_to_row(campaign_id: str, shard: ShardPlan) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "shard_id": shard.shard_id,
        "region": shard.region,
        "shard_index": shard.index,
        "study_count": shard.study_count,
        "study_pids": json.dumps(list(shard.study_pids)),
        "plan_digest": shard.digest,
        "state": "planned",
        "attempts": 0,
        "committed_at": None,
    }


def shard_from_row(row: Mapping[str, Any]) -> ShardPlan:
    return ShardPlan(
        shard_id=row["shard_id"],
        region=row["region"],
        index=int(row["shard_index"]),
        study_pids=tuple(json.loads(row["study_pids"])),
        digest=row["plan_digest"],
    )


def result_to_row(
    campaign_id: str, result: StudyResult, shard_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "study_pid": result.study_pid,
        "model_version": str(result.model_version),
        "model_name": result.model_name,
        "patient_pid": result.patient_pid,
        **{dim: getattr(result, dim) for dim in DIMENSIONS},
        "outcome": Outcome(result.outcome).value,
        "category": None if result.category is None else Category(result.category).value,
        "reason": None if result.reason is None else Reason(result.reason).value,
        "nodules": json.dumps(
            [
                [n.z, n.y, n.x, n.diameter_mm, n.solid_diameter_mm, int(n.type), n.probability]
                for n in result.nodules
            ]
        ),
        "timings": json.dumps({str(k): float(v) for k, v in result.timings.items()}),
        "shard_id": shard_id,
        "committed_at": now,
        "exam_day": result.exam_day or None,
        "screening_round": result.screening_round or None,
        "prior_category": (None if result.reading is None or result.reading.prior_category is None
                           else result.reading.prior_category.value),
        "reading": reading_to_json(result.reading),
    }


def result_from_row(row: Mapping[str, Any]) -> StudyResult:
    return StudyResult(
        study_pid=row["study_pid"],
        patient_pid=row["patient_pid"],
        **{dim: row[dim] for dim in DIMENSIONS},
        outcome=Outcome(row["outcome"]),
        model_name=row["model_name"],
        model_version=row["model_version"],
        category=None if row["category"] is None else Category(row["category"]),
        reason=None if row["reason"] is None else Reason(row["reason"]),
        nodules=tuple(
            Nodule(
                z=n[0],
                y=n[1],
                x=n[2],
                diameter_mm=n[3],
                solid_diameter_mm=n[4],
                type=NoduleType(n[5]),
                probability=n[6],
            )
            for n in json.loads(row["nodules"])
        ),
        timings={str(k): float(v) for k, v in json.loads(row["timings"]).items()},
        exam_day=row.get("exam_day") or "",
        screening_round=int(row.get("screening_round") or 0),
        reading=reading_from_json(row.get("reading"), row.get("prior_category")),
    )


def campaign_from_row(m: Any) -> Campaign:
    return Campaign(
        id=m["id"],
        spec_digest=m["spec_digest"],
        model_name=m["model_name"],
        model_version=m["model_version"],
        state=CampaignState(m["state"]),
        plan_digest=m["plan_digest"],
        shard_count=m["shard_count"],
        study_count=m["study_count"],
        key_fingerprint=m["key_fingerprint"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
    )
