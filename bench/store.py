"""Store benchmark: latency of `commit_shard` (results + ledger mark, one durable
transaction) on a given store URL. For `lungscreen bench` or to run by hand:

    python -m bench.store sqlite:////tmp/bench/results.db --shards 200 --shard-size 8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass

from jobs.store import ResultsStore
from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category
from kernel.plans import ShardPlan, shard_digest
from kernel.records import Outcome, StudyResult

__all__ = ["CommitBench", "bench_commit_shard"]


@dataclass(frozen=True)
class CommitBench:
    store: str  # dialect
    shards: int
    shard_size: int
    median_ms: float
    p90_ms: float
    commits_per_s: float


def bench_commit_shard(url: str, *, shards: int = 200, shard_size: int = 8) -> CommitBench:
    """Commit `shards` shards of `shard_size` results each into a fresh campaign at `url`
    and report the per-commit latency (median, 90th percentile)."""
    run = hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:8]
    campaign = f"bench-{run}"
    plans = [_shard(run, i, shard_size) for i in range(shards)]
    with ResultsStore.open(url) as store:
        store.ensure_campaign(campaign, spec_digest=run, model_name="bench", model_version="1")
        store.record_plan(campaign, plans)
        times = []
        for plan in plans:
            results = [_result(pid, plan.region) for pid in plan.study_pids]
            t0 = time.perf_counter()
            store.commit_shard(campaign, plan.shard_id, results)
            times.append(time.perf_counter() - t0)
        dialect = store.dialect
    times.sort()
    return CommitBench(
        store=dialect,
        shards=shards,
        shard_size=shard_size,
        median_ms=round(statistics.median(times) * 1000, 3),
        p90_ms=round(times[int(0.9 * (len(times) - 1))] * 1000, 3),
        commits_per_s=round(len(times) / sum(times), 1),
    )


def _shard(run: str, index: int, size: int) -> ShardPlan:
    pids = tuple(
        hashlib.sha256(f"{run}/{index}/{k}".encode()).hexdigest()[:20] for k in range(size)
    )
    return ShardPlan(f"bench-{index:05d}", "bench", index, pids, shard_digest("bench", index, pids))


def _result(pid: str, region: str) -> StudyResult:
    return StudyResult(
        study_pid=pid,
        patient_pid=pid[::-1],
        region=region,
        site="site-000000000001",
        age_band="60-64",
        sex="F",
        outcome=Outcome.SCREENED,
        model_name="bench",
        model_version="1",
        category=Category.PROBABLY_BENIGN,
        nodules=(Nodule(40.0, 120.5, 200.25, 7.5, 7.5, NoduleType.SOLID, 0.91),),
        timings={"load": 0.8, "infer": 1.2, "postprocess": 0.01},
    )


def main() -> None:  # pragma: no cover - a benchmark entry point
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--shards", type=int, default=200)
    parser.add_argument("--shard-size", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(asdict(bench_commit_shard(args.url, shards=args.shards,
                                               shard_size=args.shard_size))))  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    main()
