"""Shard planning: deterministic, per region, streaming in bounded memory."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.run.planning import plan_shards
from kernel.plans import shard_digest
from kernel.records import StudyRecord
from tests.store_helpers import pid, records


def test_shards_per_region_in_pid_order() -> None:
    recs = records(23, regions=("north", "south", "east"))
    shards = list(plan_shards(recs, 3))
    assert [s.region for s in shards] == ["east"] * 3 + ["north"] * 3 + ["south"] * 3
    assert [s.shard_id for s in shards[:3]] == ["east-00000", "east-00001", "east-00002"]
    assert [s.study_count for s in shards if s.region == "north"] == [3, 3, 2]
    for region in ("north", "south", "east"):
        planned = [p for s in shards if s.region == region for p in s.study_pids]
        assert planned == sorted(r.study_pid for r in recs if r.region == region)
    assert all(s.digest == shard_digest(s.region, s.index, s.study_pids) for s in shards)


def test_same_manifest_in_any_order_plans_the_same_shards(tmp_path: Path) -> None:
    recs = records(500, regions=("north", "south"))
    reference = list(plan_shards(recs, 7))
    rng = random.Random(3)
    for run_size in (1, 13, 10_000):
        shuffled = recs[:]
        rng.shuffle(shuffled)
        assert list(plan_shards(shuffled, 7, run_size=run_size, tmp_dir=tmp_path)) == reference
    assert list(tmp_path.iterdir()) == []  # spill files removed


def test_a_study_seen_twice_is_planned_once() -> None:
    recs = records(10)
    shards = list(plan_shards([*recs, *recs[:4]], 4, run_size=3))
    assert sum(s.study_count for s in shards) == 10


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        list(plan_shards(records(3), 0))
    bad = StudyRecord("a\tb", "p", "north", "s", "50-54", "F")
    with pytest.raises(ValueError, match="tabs or newlines"):
        list(plan_shards([bad], 2))
    assert list(plan_shards([], 4)) == []


def _manifest(n: int) -> Iterator[StudyRecord]:
    """A 100,000-study manifest, generated lazily in a scrambled order."""
    for i in range(n):
        j = (i * 7919) % n
        yield StudyRecord(
            study_pid=pid("s", j),
            patient_pid=pid("p", j),
            region=("north", "south", "east", "west")[j % 4],
            site=f"site-{j % 50:012x}",
            age_band="60-64",
            sex="F",
            slice_count=300,
            spacing=(1.0, 0.7, 0.7),
        )


def test_planning_100k_studies_stays_in_bounded_memory(tmp_path: Path) -> None:
    n = 100_000
    # what holding every record would take, measured on 10,000 and scaled
    tracemalloc.start()
    held = list(_manifest(10_000))
    holding_all = tracemalloc.get_traced_memory()[0] * (n // 10_000)
    del held
    tracemalloc.stop()

    tracemalloc.start()
    count = studies = 0
    pids_seen = 0
    for shard in plan_shards(_manifest(n), 8, run_size=8192, tmp_dir=tmp_path):
        count += 1
        studies += shard.study_count
        pids_seen += len(set(shard.study_pids))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert studies == pids_seen == n
    assert count == 4 * (n // 4 // 8)
    assert holding_all > 30_000_000  # sanity: the records really are big together
    assert peak < holding_all / 10, (peak, holding_all)
    assert peak < 8_000_000
