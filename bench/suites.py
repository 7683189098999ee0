"""Every benchmark suite `lungscreen bench` runs, as typed `Suite` values.

A suite takes the command's options (`SuiteOptions`; each uses those it has a meaning for)
and returns `Figures`: lines for people and JSON for scripts. Each suite's module is imported
when the suite runs, not when the command line is parsed, so `lungscreen --help` does not load
torch, Ray and the Triton client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

__all__ = ["SUITES", "Figures", "Suite", "SuiteOptions", "TextFigures"]


class Figures(Protocol):
    """What a suite returns."""

    def lines(self) -> list[str]: ...

    def to_json(self) -> str: ...


@dataclass(frozen=True)
class SuiteOptions:
    """The `lungscreen bench` options; None leaves a suite's own default."""

    runs: int | None = None
    studies: int | None = None
    backend: Literal["triton", "inprocess"] = "triton"
    num_cpus: int | None = None
    results: tuple[int, ...] | None = None
    tables: int | None = None
    device: str = "cuda"  # the gpu suite; "cpu" only to run its path where there is no GPU
    nodes: int | None = None
    store: str | None = None

    def runs_or(self, default: int) -> int:
        return self.runs if self.runs is not None else default

    def studies_or(self, default: int) -> int:
        return self.studies if self.studies is not None else default


@dataclass(frozen=True)
class TextFigures:
    """Figures from a suite that returns plain data: a title line and the data as JSON."""

    title: str
    data: Any

    def lines(self) -> list[str]:
        return [self.title, *json.dumps(self.data, indent=2, default=str).splitlines()]

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, default=str)


@dataclass(frozen=True)
class Suite:
    """One benchmark: its name on the command line, a line of help, and how to run it."""

    name: str
    help: str
    run: Callable[[SuiteOptions], Figures]


def _campaign(o: SuiteOptions) -> Figures:
    from bench.campaign import CampaignBenchOptions, run_campaign_bench  # this suite's stack only

    d = CampaignBenchOptions()
    return run_campaign_bench(CampaignBenchOptions(
        studies=o.studies or d.studies, runs=o.runs or d.runs, backend=o.backend,
        num_cpus=o.num_cpus))


def _ingest(o: SuiteOptions) -> Figures:
    from bench.ingest import format_table, run_ingest_bench  # this suite's stack only

    rows = run_ingest_bench(runs=o.runs_or(5))
    return _Table(format_table(rows), [asdict(r) for r in rows])


def _model(o: SuiteOptions) -> Figures:
    from bench.model import run_model_bench  # this suite's stack only

    return run_model_bench(runs=o.runs_or(3))


def _parallel(o: SuiteOptions) -> Figures:
    from bench.parallel import run_parallel_bench  # this suite's stack only

    return run_parallel_bench(runs=o.runs_or(3), studies=o.studies)


def _triton(o: SuiteOptions) -> Figures:
    from bench.triton import run_triton_bench  # this suite's stack only

    return run_triton_bench(runs=o.runs_or(3), studies=o.studies_or(1))


def _metrics(o: SuiteOptions) -> Figures:
    from bench.metrics import run_metrics_bench  # this suite's stack only

    return run_metrics_bench(runs=o.runs_or(5), studies=o.studies_or(8))


def _synth(o: SuiteOptions) -> Figures:
    from bench.synth import run_synth_bench  # this suite's stack only

    return run_synth_bench(runs=o.runs_or(3), studies=o.studies_or(8))


def _report(o: SuiteOptions) -> Figures:
    from bench.report import run_report_bench  # this suite's stack only

    return TextFigures("report: aggregation and suppressed report, medians (s)",
                       run_report_bench(runs=o.runs_or(3),
                                                        studies=o.studies_or(20_000)))


def _release(o: SuiteOptions) -> Figures:
    from bench.release import ReleaseBenchOptions, run_release_bench  # this suite's stack only

    d = ReleaseBenchOptions()
    return run_release_bench(ReleaseBenchOptions(
        results=o.results or d.results, runs=o.runs_or(d.runs),
        tables=d.tables if o.tables is None else o.tables))


def _audit(o: SuiteOptions) -> Figures:
    from bench.audit import run_audit_bench  # this suite's stack only

    return run_audit_bench(runs=o.runs_or(3))


def _clinical(o: SuiteOptions) -> Figures:
    from bench.clinical import run_clinical_bench  # this suite's stack only

    return run_clinical_bench(runs=o.runs_or(5), studies=o.studies_or(6))


def _rounds(o: SuiteOptions) -> Figures:
    from bench.rounds import run_rounds_bench  # this suite's stack only

    return run_rounds_bench(runs=o.runs_or(3), studies=o.studies_or(6),
                            device="cpu" if o.device == "cuda" and not _cuda() else o.device)


def _cuda() -> bool:
    import torch  # the rounds suite only: is there a GPU for the detector

    return bool(torch.cuda.is_available())


def _gpu(o: SuiteOptions) -> Figures:
    from bench.gpu import run_gpu_bench  # this suite's stack only

    return run_gpu_bench(runs=o.runs_or(3), device=o.device)


def _service(o: SuiteOptions) -> Figures:
    from bench.service import ServiceBenchOptions, run_service_bench  # this suite's stack only

    d = ServiceBenchOptions()
    return run_service_bench(ServiceBenchOptions(
        results=o.results[0] if o.results else d.results, rounds=o.studies_or(d.rounds),
        runs=o.runs_or(d.runs)))


def _scale(o: SuiteOptions) -> Figures:
    from bench.scale import ScaleBenchOptions, run_scale_bench  # this suite's stack only

    d = ScaleBenchOptions()
    return run_scale_bench(ScaleBenchOptions(
        studies=o.studies_or(d.studies), nodes=o.nodes or d.nodes, store=o.store))


@dataclass(frozen=True)
class _Table:
    table: str
    rows: list[dict[str, Any]]

    def lines(self) -> list[str]:
        return self.table.splitlines()

    def to_json(self) -> str:
        return json.dumps(self.rows, indent=2)


SUITES: Mapping[str, Suite] = {s.name: s for s in (
    Suite("campaign", "end-to-end campaign throughput against the naive in-process loop",
          _campaign),
    Suite("ingest", "DICOM header scans and volume loads per transfer syntax", _ingest),
    Suite("model", "the detector's stages on phantoms", _model),
    Suite("parallel", "the detector on several processes", _parallel),
    Suite("triton", "Triton round trips against the in-process backend", _triton),
    Suite("metrics", "metrics' cost: micro figures and a campaign with and without",
          _metrics),
    Suite("synth", "the synthetic cohort writer", _synth),
    Suite("report", "aggregation and the suppressed report", _report),
    Suite("release", "the analysts' release: measure, 500 tables, errors vs exact", _release),
    Suite("service", "50 concurrent analysts: page and report p50/p99 against /healthz",
          _service),
    Suite("audit", "the keyed audit trail: append, verify and head check per 1,000 events",
          _audit),
    Suite("gpu", "the detector on an NVIDIA GPU: in process, and served at 1, 2, 4 in flight",
          _gpu),
    Suite("clinical", "a study's DICOM SR: build, and STOW-RS to a local Orthanc, per study",
          _clinical),
    Suite("rounds", "a screen read against its prior (box, registration, side by side) "
          "against the detector's time per study", _rounds),
    Suite("scale", "a campaign of --studies N generated studies on --nodes K Ray nodes with "
          "the load-test model: driver CPU and RSS, store, commits, report, scrape", _scale),
)}
