"""`lungscreen bench metrics`: what monitoring costs.

- micro: operations per second of the hot paths, each timed `runs` times (median): a
  labelled histogram observe and counter inc (prometheus_client, cached children), the
  observer's on_study_done (3 stage observations, the study histogram, a counter, the live
  window), the Triton hook, and one scrape (exposition of every metric, the store collector
  reading a SQLite store of `studies` results);
- campaign (when the synthetic cohort writer and the model are installed): the same small
  campaign on local Ray with and without metrics (exporter served, and scraped every second
  as a short-interval Prometheus would), runs interleaved, median studies/s of each.
"""

from __future__ import annotations

import importlib
import json
import logging
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from jobs.store.progress import store_source
from kernel.errors import LungscreenError
from kernel.lungrads import Category
from kernel.observer import CampaignObserver, NullObserver
from kernel.records import Outcome, StudyRecord, StudyResult
from monitoring.collector import CampaignCollector
from monitoring.exporter import MonitoringConfig, start_monitoring
from monitoring.live import LiveState
from monitoring.metrics import STAGE_BUCKETS, Metrics
from monitoring.observer import PrometheusObserver

__all__ = ["MetricsBench", "run_metrics_bench"]

log = logging.getLogger("monitoring")


@dataclass(frozen=True)
class MetricsBench:
    """Medians of `runs` runs. ops_per_s: operation -> operations per second."""

    runs: int
    ops_per_s: dict[str, float]
    scrape_s: float
    scrape_bytes: int
    store_results: int
    campaign_studies_per_s: dict[str, float] = field(default_factory=dict)
    campaign_note: str = ""

    def lines(self) -> list[str]:
        out = [f"metrics overhead (median of {self.runs} runs)"]
        for name, rate in self.ops_per_s.items():
            out.append(f"  {name:<34} {rate:>12,.0f} ops/s  {1e6 / rate:8.2f} us/op")
        out.append(f"  {'scrape (store of ' + str(self.store_results) + ' results)':<34} "
                   f"{self.scrape_s * 1e3:>12.2f} ms     {self.scrape_bytes:,} bytes")
        if self.campaign_studies_per_s:
            on = self.campaign_studies_per_s.get("with_metrics", 0.0)
            off = self.campaign_studies_per_s.get("without_metrics", 0.0)
            ratio = on / off if off else float("nan")
            out.append(f"  campaign studies/s: without metrics {off:.3f}, with metrics "
                       f"{on:.3f} (ratio {ratio:.3f})")
        if self.campaign_note:
            out.append(f"  campaign: {self.campaign_note}")
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _rate(op: Callable[[], None], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        op()
    return n / (time.perf_counter() - start)


def _result(i: int) -> StudyResult:
    return StudyResult(f"s{i:06d}", f"p{i:06d}", "north" if i % 2 else "south", "site", "60-64",
                       "F", Outcome.SCREENED, "lung_nodule_detector", "1",
                       category=Category.BENIGN,
                       timings={"load": 0.8, "infer": 2.1, "postprocess": 0.02})


def _micro(runs: int, n: int) -> dict[str, float]:
    registry = CollectorRegistry()
    hist = Histogram("bench_seconds", "h", ["stage"], buckets=STAGE_BUCKETS,
                     registry=registry).labels("infer")
    counter = Counter("bench_total", "c", ["campaign"], registry=registry).labels("c")
    metrics = Metrics(registry, "bench")
    observer = PrometheusObserver(metrics, LiveState(), "bench")
    observer.on_plan("bench", {"north": n, "south": n}, {})
    result = _result(1)
    ops: dict[str, Callable[[], None]] = {
        "histogram.observe (cached child)": lambda: hist.observe(1.7),
        "counter.inc (cached child)": counter.inc,
        "histogram.labels(...).observe": lambda: metrics.stage_duration.labels(
            "bench", "infer").observe(1.7),
        "observer.on_study_done": lambda: observer.on_study_done(result),
        "observer.on_triton_request": lambda: observer.on_triton_request(
            "127.0.0.1:8001", "ok", 0.9),
    }
    return {name: statistics.median(_rate(op, n) for _ in range(runs))
            for name, op in ops.items()}


def _scrape(runs: int, studies: int, root: Path) -> tuple[float, int]:
    from jobs.run.planning import plan_shards
    from jobs.store import ResultsStore

    store = ResultsStore.open(f"sqlite:///{root / 'scrape.db'}")
    try:
        store.ensure_campaign("bench", spec_digest="0" * 64, model_name="m", model_version="1")
        records = [StudyRecord(f"s{i:06d}", f"p{i:06d}", "north" if i % 2 else "south",
                               "site", "60-64", "F") for i in range(studies)]
        store.record_plan("bench", plan_shards(records, 8))
        by_pid = {r.study_pid: i for i, r in enumerate(records)}
        for plan in list(store.pending_shards("bench")):
            store.commit_shard("bench", plan.shard_id,
                               [_result(by_pid[p]) for p in plan.study_pids])
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


@contextmanager
def _scraper(url: str, every_s: float = 1.0) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _campaign(runs: int, studies: int, root: Path, target: _Target) -> dict[str, float]:
    """Median studies/s of the same campaign with and without metrics (runs interleaved)."""
    from cluster.ray.connect import RayOptions, connect
    from jobs.ingest.intake import take_in
    from jobs.ingest.privacy import LocatorSeal, OptOutList, Pseudonymizer, load_or_create_key
    from jobs.run.campaign import RunOptions, inference_backend, shard_work
    from jobs.run.driver import Driver, DriverSettings
    from jobs.run.executor import RayExecutor
    from jobs.run.planning import plan_shards
    from jobs.spec.campaign import parse_spec
    from jobs.store import ResultsStore

    # looked up at run time: the cohort writer is optional here (ImportError says so)
    write_cohort = getattr(importlib.import_module("synth"), "write_cohort", None)
    if write_cohort is None:
        raise ImportError("synth.write_cohort", name="synth.write_cohort")
    cohort = root / "cohort"
    write_cohort(cohort, studies=studies, regions=1, seed=5, profile="small", defects=False)
    doc: dict[str, Any] = {"id": "mbench", "regions": [{"name": "r", "sources": [
        {"folder": str(cohort)}]}], "shard_size": 2, "max_shards_in_flight": 4,
        "data_dir": str(root / "data")}
    if target.triton_urls:
        doc["triton"] = {"urls": list(target.triton_urls)}
    if target.model_name:
        doc["model"] = {"name": target.model_name, "version": target.model_version}
    spec = parse_spec(doc, base_dir=root)
    key_file = root / "keys" / "pseudonym.key"
    key = load_or_create_key(key_file)
    pseudonymizer, seal = Pseudonymizer(key), LocatorSeal(key, key_file)
    intake = take_in(spec, pseudonymizer, OptOutList(pseudonymizer), env={})
    rates: dict[str, list[float]] = {"without_metrics": [], "with_metrics": []}
    with inference_backend(spec, RunOptions()) as backend, connect(RayOptions()):
        executor = RayExecutor(backend)
        for i in range(runs * 2 + 1):  # run 0 warms Ray workers and the model up
            with_metrics = i % 2 == 1
            cid = f"mbench-{i}"
            store = ResultsStore.open(f"sqlite:///{root / f'{cid}.db'}")
            try:
                store.ensure_campaign(cid, spec_digest=cid, model_name=spec.model.name,
                                      model_version=spec.model.version)
                store.record_plan(cid, plan_shards(intake.records.values(), spec.shard_size))

                def commit(work: Any, results: Any, store: Any = store, cid: str = cid) -> None:
                    store.commit_shard(cid, work.shard_id, results)

                mon = (start_monitoring(MonitoringConfig(port=0), store_source(store, [cid]),
                                        "bench") if with_metrics else None)
                observer: CampaignObserver = (mon.observer(cid) if mon is not None
                                              else NullObserver())
                driver = Driver(executor, commit, backend,
                                DriverSettings(max_shards_in_flight=4, poll_s=0.2), observer)
                try:
                    scrape = (_scraper(mon.exporter.url) if mon is not None and mon.exporter
                              else _nothing())
                    with scrape:
                        start = time.perf_counter()
                        report = driver.run(shard_work(cid, store, intake, seal))
                        wall = time.perf_counter() - start
                finally:
                    if mon is not None:
                        mon.stop()
            finally:
                store.close()
            if i > 0:
                rate = sum(report.outcomes.values()) / wall
                rates["with_metrics" if with_metrics else "without_metrics"].append(rate)
                log.info("campaign run %d (%s metrics): %.3f studies/s", i,
                         "with" if with_metrics else "without", rate)
        executor.close()
    return {k: statistics.median(v) for k, v in rates.items()}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@dataclass(frozen=True)
class _Target:
    triton_urls: tuple[str, ...] = ()
    model_name: str | None = None
    model_version: str = "1"


def run_metrics_bench(
    runs: int = 5,
    studies: int = 8,
    campaign: bool = True,
    triton_urls: tuple[str, ...] = (),
    model_name: str | None = None,
    model_version: str = "1",
) -> MetricsBench:
    """Measure the micro figures (always) and the campaign with/without metrics.

    The campaign uses the bundled Triton with the reference model, or `triton_urls` serving
    `model_name` (any contract-v1 model); when the cohort writer or the model is missing
    the figures say why instead.
    """
    with tempfile.TemporaryDirectory(prefix="lungscreen-mbench-") as tmp:
        root = Path(tmp)
        ops = _micro(runs, 100_000)
        scrape_s, size = _scrape(runs, max(studies, 1000), root)
        figures: dict[str, float] = {}
        note = ""
        if campaign:
            target = _Target(tuple(triton_urls), model_name, model_version)
            try:
                figures = _campaign(runs, studies, root, target)
                note = (f"{studies} studies per run, model {model_name or 'reference'}"
                        f"{' on ' + ', '.join(triton_urls) if triton_urls else ''}")
            except ImportError as exc:
                note = f"not measured: {exc.name or exc} is not installed here"
            except LungscreenError as exc:
                note = f"not measured: {exc}"
        else:
            note = "not measured (campaign=False)"
        return MetricsBench(runs, ops, scrape_s, size, max(studies, 1000), figures, note)
