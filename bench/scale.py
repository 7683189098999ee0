"""`lungscreen bench scale`: how a campaign's costs grow with its size.

One campaign of `studies` generated studies (jobs.ingest.sources.synthetic, two regions)
screened by the load-test model (models.detection.loadtest: contract v1, a few milliseconds a
volume) on the real Triton server, over a local multi-node Ray cluster
(`ray.cluster_utils.Cluster`: a head without CPUs and `nodes` nodes of `cpus_per_node`), with
the metrics exporter on, as `lungscreen campaign run` runs it (jobs.run.run_campaign).
Measured on the driver (this process):

- studies/s committed (from the plan to the last commit) and the whole run's wall time;
- driver CPU ms per study (process CPU time over the run: intake, then the drive) and its
  split, and the share of it that is the load generator's own scan (sampled beforehand on
  200 studies: what a real source would spend reading headers); driver peak RSS, sampled
  every 0.25 s over the run;
- store size per 1,000 results; each shard's commit time, p50 and p99;
- then `report` (the suppressed report by region, site, age band and sex, read from the
  store and rendered) and a scrape of the driver's /metrics, each timed;
- lost and doubled: the store's results counted against the sources' studies.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.rss_sampler import RssSampler
from bench.scale_cluster import loadtest_triton, local_ray_cluster
from bench.scale_store import count_against_sources, store_bytes
from jobs.ingest.sources import SyntheticSource
from jobs.report import campaign_report, render
from jobs.run import RunOptions, campaign_key, campaign_metrics, run_campaign
from jobs.spec import CampaignSpec, open_spec_store, parse_spec
from kernel.observer import NullObserver, ShardInfo

__all__ = ["ScaleBench", "ScaleBenchOptions", "run_scale_bench"]

log = logging.getLogger("jobs")
REGIONS = ("north", "south")
CAMPAIGN = "scale"


@dataclass(frozen=True)
class ScaleBenchOptions:
    """What to run: `store` is a SQLAlchemy URL (None: a SQLite file in the work folder)."""

    studies: int = 1_000
    nodes: int = 2
    cpus_per_node: int = 1
    seed: int = 0
    shard_size: int = 20
    max_shards_in_flight: int = 4
    store: str | None = None
    workdir: Path | None = None


@dataclass(frozen=True)
class ScaleBench:
    """The figures of one run (see the module doc)."""

    options: ScaleBenchOptions
    studies: int
    wall_s: float
    intake_s: float
    drive_s: float
    driver_cpu_s: float
    intake_cpu_s: float
    generator_cpu_s: float
    driver_peak_rss_mb: float
    driver_rss_at_plan_mb: float
    store_bytes: int
    commits: tuple[float, ...] = field(repr=False)
    report_s: float
    scrape_s: float
    scrape_bytes: int
    lost: int
    doubled: int
    foreign: int
    outcomes: dict[str, int]

    @property
    def studies_per_s(self) -> float:
        return self.studies / self.drive_s if self.drive_s > 0 else 0.0

    @property
    def driver_cpu_ms_per_study(self) -> float:
        return 1000 * self.driver_cpu_s / max(1, self.studies)

    def _commit_ms(self, q: int) -> float:
        if not self.commits:
            return 0.0
        if len(self.commits) == 1:
            return 1000 * self.commits[0]
        return 1000 * statistics.quantiles(self.commits, n=100, method="inclusive")[q - 1]

    def summary(self) -> dict[str, Any]:
        """The figures as one flat mapping (the JSON document)."""
        o = self.options
        intake_ms = 1000 * self.intake_cpu_s / max(1, self.studies)
        return {
            "studies": self.studies, "nodes": o.nodes, "cpus_per_node": o.cpus_per_node,
            "shard_size": o.shard_size, "max_shards_in_flight": o.max_shards_in_flight,
            "store": "sqlite" if o.store is None else o.store.split(":", 1)[0],
            "wall_s": round(self.wall_s, 2), "intake_s": round(self.intake_s, 2),
            "drive_s": round(self.drive_s, 2), "studies_per_s": round(self.studies_per_s, 2),
            "driver_cpu_ms_per_study": round(self.driver_cpu_ms_per_study, 3),
            "driver_cpu_ms_per_study_intake": round(intake_ms, 3),
            "driver_cpu_ms_per_study_drive": round(self.driver_cpu_ms_per_study - intake_ms, 3),
            "generator_cpu_ms_per_study": round(1000 * self.generator_cpu_s, 3),
            "driver_cpu_ms_per_study_net": round(
                self.driver_cpu_ms_per_study - 1000 * self.generator_cpu_s, 3),
            "driver_peak_rss_mb": round(self.driver_peak_rss_mb, 1),
            "driver_rss_at_plan_mb": round(self.driver_rss_at_plan_mb, 1),
            "store_mb_per_1000": round(self.store_bytes / 2**20 / max(1, self.studies) * 1000, 3),
            "commits": len(self.commits), "commit_p50_ms": round(self._commit_ms(50), 2),
            "commit_p99_ms": round(self._commit_ms(99), 2),
            "report_s": round(self.report_s, 3), "scrape_s": round(self.scrape_s, 4),
            "scrape_bytes": self.scrape_bytes,
            "lost": self.lost, "doubled": self.doubled, "foreign": self.foreign,
            "outcomes": self.outcomes,
        }

    def lines(self) -> list[str]:
        s = self.summary()
        return [
            f"scale bench: {s['studies']} studies, {s['nodes']} Ray nodes x "
            f"{s['cpus_per_node']} CPU, shard_size {s['shard_size']}, {s['store']} store, "
            "load-test model on Triton",
            f"  committed:   {s['studies_per_s']} studies/s ({s['drive_s']} s driving, "
            f"{s['intake_s']} s intake, {s['wall_s']} s in all)",
            f"  driver CPU:  {s['driver_cpu_ms_per_study']} ms/study (intake "
            f"{s['driver_cpu_ms_per_study_intake']}, drive {s['driver_cpu_ms_per_study_drive']}; "
            f"{s['driver_cpu_ms_per_study_net']} without the generator's "
            f"{s['generator_cpu_ms_per_study']})",
            f"  driver RSS:  peak {s['driver_peak_rss_mb']} MB "
            f"({s['driver_rss_at_plan_mb']} MB after intake)",
            f"  store:       {s['store_mb_per_1000']} MB per 1,000 results; "
            f"commit p50 {s['commit_p50_ms']} ms, p99 {s['commit_p99_ms']} ms "
            f"({s['commits']} shards)",
            f"  report:      {s['report_s']} s;  metrics scrape: {s['scrape_s']} s "
            f"({s['scrape_bytes']} bytes)",
            f"  lost {s['lost']}, doubled {s['doubled']}, foreign {s['foreign']}; "
            f"outcomes {s['outcomes']}",
        ]

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2)


class _Clock(NullObserver):
    """The driver's side of the run: when (and at what CPU and RSS) the plan was announced,
    and how long each shard's commit took."""

    def __init__(self, rss: RssSampler) -> None:
        self.rss = rss
        self.plan_at = self.plan_cpu = self.plan_rss_mb = 0.0
        self.commits: list[float] = []

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        self.plan_at, self.plan_cpu = time.perf_counter(), time.process_time()
        self.plan_rss_mb = max(self.rss.samples, default=0) / 2**20

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[Any],
                           commit_s: float) -> None:
        self.commits.append(commit_s)


def _sources(options: ScaleBenchOptions) -> list[SyntheticSource]:
    half = options.studies // len(REGIONS)
    sizes = [half] * (len(REGIONS) - 1) + [options.studies - half * (len(REGIONS) - 1)]
    return [SyntheticSource(n, options.seed + k) for k, n in enumerate(sizes)]


def _generator_cpu_s(seed: int, sample: int = 200) -> float:
    """CPU seconds per study the synthetic source's own scan takes (not the product's)."""
    start = time.process_time()
    for _ in SyntheticSource(sample, seed).scan():
        pass
    return (time.process_time() - start) / sample


def _spec(options: ScaleBenchOptions, root: Path, triton_url: str) -> CampaignSpec:
    sources = _sources(options)
    return parse_spec({
        "id": CAMPAIGN,
        "model": {"name": "loadtest_detector", "version": 1},
        "triton": {"urls": [triton_url]},
        "store": options.store or f"sqlite:///{root / 'results.db'}",
        "shard_size": options.shard_size,
        "max_shards_in_flight": options.max_shards_in_flight,
        "data_dir": str(root / "data"),
        "privacy": {"key_file": str(root / "keys" / "pseudonym.key")},
        "regions": [{"name": name, "sources": [{"synthetic": {"studies": s.studies,
                                                              "seed": s.seed}}]}
                    for name, s in zip(REGIONS, sources, strict=True)],
    }, base_dir=root, state_dir=root / "state")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _workdir(options: ScaleBenchOptions) -> Iterator[Path]:
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
        yield options.workdir
        return
    with tempfile.TemporaryDirectory(prefix="lungscreen-scale-") as tmp:
        yield Path(tmp)


def run_scale_bench(options: ScaleBenchOptions | None = None) -> ScaleBench:
    """Run the campaign and measure it (see the module doc)."""
    options = options or ScaleBenchOptions()
    with _workdir(options) as root, loadtest_triton() as triton_url, \
            local_ray_cluster(options.nodes, options.cpus_per_node) as address:
        env = {**os.environ, "LUNGSCREEN_STATE_DIR": str(root / "state")}
        spec = _spec(options, root, triton_url)
        key = campaign_key(spec.key_path, None, "bench", create=True)
        port = _free_port()
        generator_cpu_s = _generator_cpu_s(options.seed)
        rss = RssSampler()
        clock = _Clock(rss)
        with campaign_metrics(spec, port, env=env) as metrics:
            store = open_spec_store(spec, env)
            try:
                run_options = RunOptions(address=address, backend="triton", env=env,
                                         observers=(metrics, clock))
                with rss:
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    run = run_campaign(spec, run_options, store)
                    cpu1, t1 = time.process_time(), time.perf_counter()
                log.info("scale bench: %s", run.message)
                scrape_s, scrape_bytes = _scrape(f"http://127.0.0.1:{port}/metrics")
            finally:
                store.close()
        report_s = _report(spec, env)
        with open_spec_store(spec, env) as store:
            ledger = count_against_sources(store, spec.id, key, _sources(options))
        return ScaleBench(
            options=options, studies=options.studies, wall_s=t1 - t0,
            intake_s=clock.plan_at - t0, drive_s=t1 - clock.plan_at,
            driver_cpu_s=cpu1 - cpu0, intake_cpu_s=clock.plan_cpu - cpu0,
            generator_cpu_s=generator_cpu_s,
            driver_peak_rss_mb=rss.peak_mb, driver_rss_at_plan_mb=clock.plan_rss_mb,
            store_bytes=store_bytes(spec.store_url, _password(spec, env)),
            commits=tuple(clock.commits), report_s=report_s, scrape_s=scrape_s,
            scrape_bytes=scrape_bytes, lost=ledger.lost, doubled=ledger.doubled,
            foreign=ledger.foreign, outcomes=dict(run.counts))


def _password(spec: CampaignSpec, env: dict[str, str]) -> str | None:
    from jobs.spec import store_password  # the store's secret: a PostgreSQL size query only

    return store_password(spec, env)


def _report(spec: CampaignSpec, env: dict[str, str]) -> float:
    """Seconds for `lungscreen report` by every dimension: open the store, read and
    aggregate the results, suppress, render the table."""
    start = time.perf_counter()
    with open_spec_store(spec, env, create=False) as store:
        report = campaign_report(store, spec.id, by=("region", "site", "age_band", "sex"))
    render(report, "table")
    return time.perf_counter() - start


def _scrape(url: str, runs: int = 3) -> tuple[float, int]:
    """The median seconds of `runs` GETs of the driver's /metrics, and its size."""
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as answer:
            size = len(answer.read())
        times.append(time.perf_counter() - start)
    return statistics.median(times), size

