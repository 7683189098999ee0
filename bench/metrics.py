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

import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.metrics_campaign import Target, campaign_rates
from bench.metrics_scrape import sample_result, scrape_figures
from kernel import LungscreenError
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


def _micro(runs: int, n: int) -> dict[str, float]:
    registry = CollectorRegistry()
    hist = Histogram("bench_seconds", "h", ["stage"], buckets=STAGE_BUCKETS,
                     registry=registry).labels("infer")
    counter = Counter("bench_total", "c", ["campaign"], registry=registry).labels("c")
    metrics = Metrics(registry, "bench")
    observer = PrometheusObserver(metrics, LiveState(), "bench")
    observer.on_plan("bench", {"north": n, "south": n}, {})
    result = sample_result(1)
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
        scrape_s, size = scrape_figures(runs, max(studies, 1000), root)
        figures: dict[str, float] = {}
        note = ""
        if campaign:
            target = Target(tuple(triton_urls), model_name, model_version)
            try:
                figures = campaign_rates(runs, studies, root, target)
                note = (f"{studies} studies per run, model {model_name or 'reference'}"
                        f"{' on ' + ', '.join(triton_urls) if triton_urls else ''}")
            except ImportError as exc:
                note = f"not measured: {exc.name or exc} is not installed here"
            except LungscreenError as exc:
                note = f"not measured: {exc}"
        else:
            note = "not measured (campaign=False)"
        return MetricsBench(runs, ops, scrape_s, size, max(studies, 1000), figures, note)
