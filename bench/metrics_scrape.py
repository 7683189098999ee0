"""`lungscreen bench metrics`, the scrape: one exposition of every metric, the store
collector reading a campaign's results from a SQLite store."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from jobs.run import plan_shards, store_source
from jobs.store import ResultsStore
from kernel import Category, Outcome, StudyRecord, StudyResult
from monitoring.collector import CampaignCollector
from monitoring.live import LiveState
from monitoring.metrics import Metrics

__all__ = ["sample_result", "scrape_figures"]


def sample_result(i: int) -> StudyResult:
    """A screened study's result, as a campaign commits it."""
    return StudyResult(f"s{i:06d}", f"p{i:06d}", "north" if i % 2 else "south", "site", "60-64",
                       "F", Outcome.SCREENED, "lung_nodule_detector", "1",
                       category=Category.BENIGN,
                       timings={"load": 0.8, "infer": 2.1, "postprocess": 0.02})


def scrape_figures(runs: int, studies: int, root: Path) -> tuple[float, int]:
    """Median seconds and the size of one scrape of every metric, the store collector
    reading a SQLite store of `studies` results."""
    store = ResultsStore.open(f"sqlite:///{root / 'scrape.db'}")
    try:
        store.ensure_campaign("bench", spec_digest="0" * 64, model_name="m", model_version="1")
        records = [StudyRecord(f"s{i:06d}", f"p{i:06d}", "north" if i % 2 else "south",
                               "site", "60-64", "F") for i in range(studies)]
        store.record_plan("bench", plan_shards(records, 8))
        by_pid = {r.study_pid: i for i, r in enumerate(records)}
        for plan in list(store.pending_shards("bench")):
            store.commit_shard("bench", plan.shard_id,
                               [sample_result(by_pid[p]) for p in plan.study_pids])
        registry = CollectorRegistry()
        Metrics(registry, "bench").init_campaign("bench", ("north", "south"))
        registry.register(CampaignCollector(store_source(store, ["bench"]), LiveState()))
        times = []
        size = 0
        for _ in range(runs):
            start = time.perf_counter()
            size = len(generate_latest(registry))
            times.append(time.perf_counter() - start)
        return statistics.median(times), size
    finally:
        store.close()
