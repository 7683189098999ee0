"""`lungscreen bench campaign`: a campaign's end-to-end throughput against a naive loop.

Both sides screen the same synthetic studies (discovered and selected once, beforehand):

- baseline: one loop in this process: load the series, run the same model in-process,
  categorise; one study after the other;
- campaign: the product's own steps (jobs.run: `prepare`, then `drive` on Ray: shards,
  prefetching workers, the inference backend, the bundled Triton by default), on a fresh
  SQLite store per run.

Ray and the backend are warmed up first (worker processes started, model loaded), so the
figures are steady-state throughput, not start-up time. Each side runs `runs` times;
reported: median studies/s, the ratio, per-stage medians (seconds per study) and the share
of all cores busy during each run (from /proc/stat, first and last 10 % trimmed).
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from bench.cpu_sampler import CpuSampler
from jobs.run import (
    DriverSettings,
    Prepared,
    RunOptions,
    campaign_key,
    drive,
    inference_backend,
    load_study,
    open_executor,
    prepare,
    warm_up,
)
from jobs.spec import CampaignSpec, parse_spec
from jobs.store import AuditKey, ResultsStore
from kernel import categorize_study
from kernel.contract import nodules_from_array

__all__ = ["CampaignBench", "CampaignBenchOptions", "RunFigures", "run_campaign_bench"]

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class CampaignBenchOptions:
    """What to measure. `backend`: triton (bundled local server unless `triton_urls`) or
    inprocess (the model inside each Ray worker)."""

    studies: int = 12
    runs: int = 3
    seed: int = 11
    profile: str = "small"
    backend: Literal["triton", "inprocess"] = "triton"
    triton_urls: tuple[str, ...] = ()
    shard_size: int = 2
    max_shards_in_flight: int = 4
    num_cpus: int | None = None
    workdir: Path | None = None


@dataclass(frozen=True)
class RunFigures:
    """One timed run."""

    studies: int
    wall_s: float
    cpu_busy: float | None

    @property
    def studies_per_s(self) -> float:
        return self.studies / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class CampaignBench:
    """Figures of `lungscreen bench campaign` (medians over runs)."""

    options: CampaignBenchOptions
    baseline: tuple[RunFigures, ...]
    campaign: tuple[RunFigures, ...]
    baseline_stages: dict[str, float] = field(default_factory=dict)
    campaign_stages: dict[str, float] = field(default_factory=dict)

    @property
    def baseline_rate(self) -> float:
        return statistics.median(r.studies_per_s for r in self.baseline)

    @property
    def campaign_rate(self) -> float:
        return statistics.median(r.studies_per_s for r in self.campaign)

    @property
    def speedup(self) -> float:
        return self.campaign_rate / self.baseline_rate if self.baseline_rate else 0.0

    @staticmethod
    def _busy(runs: Sequence[RunFigures]) -> float | None:
        busy = [r.cpu_busy for r in runs if r.cpu_busy is not None]
        return statistics.median(busy) if busy else None

    def lines(self) -> list[str]:
        """The human-readable summary."""
        o = self.options

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.0f}%"

        def stages(d: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:.3f}s" for k, v in d.items()) or "n/a"

        return [
            f"campaign bench: {o.studies} studies ({o.profile}), {o.runs} runs each, "
            f"backend {o.backend}, shard_size {o.shard_size}, "
            f"{o.max_shards_in_flight} shards in flight",
            f"  baseline (one loop, in-process model): {self.baseline_rate:.3f} studies/s, "
            f"CPU busy {pct(self._busy(self.baseline))}",
            f"    per-study medians: {stages(self.baseline_stages)}",
            f"  campaign (Ray + {o.backend}):        {self.campaign_rate:.3f} studies/s, "
            f"CPU busy {pct(self._busy(self.campaign))}",
            f"    per-study medians: {stages(self.campaign_stages)}",
            f"  speedup: {self.speedup:.2f}x the baseline",
        ]

    def to_json(self) -> str:
        doc = {
            "options": {k: (str(v) if isinstance(v, Path) else v)
                        for k, v in asdict(self.options).items()},
            "baseline": [asdict(r) | {"studies_per_s": r.studies_per_s} for r in self.baseline],
            "campaign": [asdict(r) | {"studies_per_s": r.studies_per_s} for r in self.campaign],
            "baseline_studies_per_s": self.baseline_rate,
            "campaign_studies_per_s": self.campaign_rate,
            "speedup": self.speedup,
            "baseline_cpu_busy": self._busy(self.baseline),
            "campaign_cpu_busy": self._busy(self.campaign),
            "baseline_stages_s": self.baseline_stages,
            "campaign_stages_s": self.campaign_stages,
        }
        return json.dumps(doc, indent=2)


def _medians(timings: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = ("load", "infer", "postprocess", "compare")
    return {k: statistics.median(t[k] for t in timings if k in t)
            for k in keys if any(k in t for t in timings)}


def _spec(options: CampaignBenchOptions, root: Path) -> CampaignSpec:
    from synth import write_cohort  # synth: only to write a cohort

    cohort = root / "cohort"
    if not cohort.exists():
        write_cohort(cohort, studies=options.studies, regions=1, seed=options.seed,
                     profile=options.profile, defects=False)
    return parse_spec(
        {
            "id": "bench",
            "regions": [{"name": "bench", "sources": [{"folder": str(cohort / "dicom")}]}],
            "shard_size": options.shard_size,
            "max_shards_in_flight": options.max_shards_in_flight,
            "data_dir": str(root / "data"),
            # synthetic data: a bench key, a file (workers open sealed locators with it)
            "privacy": {"key_file": str(root / "keys" / "pseudonym.key")},
            **({"triton": {"urls": list(options.triton_urls)}} if options.triton_urls else {}),
        },
        base_dir=root,
        state_dir=root / "state",
    )


def _prepared(spec: CampaignSpec, key: bytes, root: Path, index: int,
              first: Prepared | None) -> Prepared:
    """The campaign on a fresh store of its own (`run-<index>.db`), prepared as a run
    prepares it; the studies are taken in once, by the first."""
    store = ResultsStore.open(f"sqlite:///{root / f'run-{index}.db'}",
                              audit_key=AuditKey.load(root / "state"))
    store.ensure_campaign(spec.id, spec_digest=f"bench-{index}", model_name=spec.model.name,
                          model_version=spec.model.version)
    prepared = prepare(spec, store, key, intake=first.intake if first else None)
    if not prepared.intake.records:
        raise RuntimeError("the bench cohort has no screenable study")
    return prepared


def _baseline_run(prepared: Prepared, backend: object
                  ) -> tuple[RunFigures, list[dict[str, float]]]:
    from models.detection.inprocess import InProcessBackend  # torch: in-process only

    assert isinstance(backend, InProcessBackend)
    intake = prepared.intake
    timings: list[dict[str, float]] = []
    with CpuSampler() as cpu:
        start = time.perf_counter()
        for pid in intake.records:
            t0 = time.perf_counter()
            volume = load_study(intake.locators[pid])
            t1 = time.perf_counter()
            rows = backend.infer(volume.hu, volume.spacing)
            t2 = time.perf_counter()
            categorize_study(nodules_from_array(rows))
            t3 = time.perf_counter()
            timings.append({"load": t1 - t0, "infer": t2 - t1, "postprocess": t3 - t2})
        wall = time.perf_counter() - start
    return RunFigures(len(intake.records), wall, cpu.busy_fraction(trim=0.1)), timings


def run_campaign_bench(options: CampaignBenchOptions | None = None) -> CampaignBench:
    """Measure the baseline and the campaign (see the module doc)."""
    options = options or CampaignBenchOptions()
    with tempfile.TemporaryDirectory(prefix="lungscreen-bench-") as tmp:
        root = options.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        spec = _spec(options, root)
        key = campaign_key(spec.key_path, None, "bench", create=True)
        runs = [_prepared(spec, key, root, 0, None)]
        runs += [_prepared(spec, key, root, i, runs[0]) for i in range(1, options.runs)]
        try:
            return _measure(options, spec, runs)
        finally:
            for prepared in runs:
                prepared.store.close()


def _measure(options: CampaignBenchOptions, spec: CampaignSpec, runs: list[Prepared]
             ) -> CampaignBench:
    from models.detection.inprocess import InProcessBackend  # torch: in-process only

    model = InProcessBackend()
    first = load_study(next(iter(runs[0].intake.locators.values())))
    model.infer(first.hu, first.spacing)  # warm-up: weights loaded, kernels chosen
    baseline, base_t = [], []
    for _ in range(options.runs):
        figures, timings = _baseline_run(runs[0], model)
        baseline.append(figures)
        base_t.extend(timings)
        log.info("baseline run: %.3f studies/s", figures.studies_per_s)
    del model

    campaign: list[RunFigures] = []
    camp_t: list[dict[str, float]] = []
    run_options = RunOptions(backend="inprocess" if options.backend == "inprocess" else "auto",
                             num_cpus=options.num_cpus)
    with inference_backend(spec, run_options) as backend, \
            open_executor(spec, run_options, backend) as executor:
        warm_up(executor, runs[0])
        for prepared in runs:  # the product's own steps: drive, on a fresh store each
            with CpuSampler() as cpu:
                run = drive(prepared, backend, executor, (), DriverSettings(poll_s=0.2))
            assert run.report is not None
            figures = RunFigures(sum(run.report.outcomes.values()), run.report.wall_s,
                                 cpu.busy_fraction(trim=0.1))
            campaign.append(figures)
            camp_t.extend(dict(r.timings) for r in prepared.store.results(spec.id))
            log.info("campaign run: %.3f studies/s", figures.studies_per_s)
    return CampaignBench(options, tuple(baseline), tuple(campaign),
                         _medians(base_t), _medians(camp_t))
