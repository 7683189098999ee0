"""Metric names, labels and values: naming conventions, bounded labels, no PHI, and
store-derived figures that stay right across a driver restart."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobs.run.shardwork import ShardWork, StudyWork
from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.progress import CampaignProgress, RegionProgress
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from monitoring.collector import CampaignCollector
from monitoring.exporter import MonitoringConfig, start_exporter, start_monitoring
from monitoring.live import LiveState
from monitoring.metrics import Metrics, server_label, triton_outcome
from monitoring.observer import PrometheusObserver, deadline_timestamp

ALLOWED_LABELS = {
    "campaign", "region", "stage", "outcome", "reason", "model", "version",
    "server", "state", "error", "le",
}
CANARY = "CANARY7f3e"


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def result(i: int, region: str = "north", outcome: Outcome = Outcome.SCREENED,
           reason: Reason | None = None, category: Category | None = Category.NEGATIVE,
           ) -> StudyResult:
    return StudyResult(
        study_pid=f"{CANARY}-study-{i}", patient_pid=f"{CANARY}-patient-{i}", region=region,
        site=f"{CANARY}-site", age_band="60-64", sex="F", outcome=outcome,
        model_name="lung_nodule_detector", model_version="1", category=category, reason=reason,
        nodules=(Nodule(10.0, 20.0, 30.0, 7.0, 7.0, NoduleType.SOLID, 0.9),),
        timings={"load": 0.4, "infer": 1.2, "postprocess": 0.05},
    )


def progress(done_north: int = 3, quarantined: int = 1, deadline: float | None = None
             ) -> CampaignProgress:
    north = RegionProgress(
        "north", studies_planned=10, shards_planned=5, shards_done=2,
        outcomes={"screened": done_north, "quarantined": quarantined},
        quarantines={"slice_gap": quarantined},
        categories={"1": done_north - 1, "4A": 1},
    )
    south = RegionProgress("south", studies_planned=4, shards_planned=2, shards_done=0)
    return CampaignProgress("c1", (south, north), state="running", deadline=deadline)


def families(registry: CollectorRegistry) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    text = generate_latest(registry).decode()
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = [(s.name, dict(s.labels), s.value) for s in fam.samples]
    return out


def value(fams: dict[str, list[tuple[str, dict[str, str], float]]], sample: str,
          **labels: str) -> float:
    for fam in fams.values():
        for name, lab, v in fam:
            if name == sample and all(lab.get(k) == val for k, val in labels.items()):
                return v
    raise AssertionError(f"no sample {sample} {labels}")


@pytest.fixture
def wired():
    registry = CollectorRegistry()
    metrics = Metrics(registry, version="0.1.0")
    clock = Clock()
    live = LiveState(window_s=60.0, clock=clock)
    state = {"progress": [progress()]}
    registry.register(CampaignCollector(lambda: state["progress"], live, clock=lambda: 5000.0))
    observer = PrometheusObserver(
        metrics, live, "c1", model="lung_nodule_detector", model_version="1",
        deadline=9000.0, triton_urls=("grpc://user:secret@10.0.0.5:8001/x",))
    return registry, observer, live, clock, state


def shard(shard_id: str, region: str, n: int, planned: int = 0) -> ShardWork:
    studies = tuple(
        StudyWork(StudyRecord(f"{CANARY}-s{i}", f"{CANARY}-p{i}", region, f"{CANARY}-site",
                              "60-64", "F"), locator=f"/data/{CANARY}/{i}",
                  planned=Reason.OPTED_OUT if i < planned else None)
        for i in range(n))
    return ShardWork("c1", shard_id, region, studies)


def drive(observer: PrometheusObserver, clock: Clock, n: int = 6) -> None:
    observer.on_plan("c1", {"north": 10, "south": 4}, {"north": 0, "south": 0})
    work = shard(f"{CANARY}-shard", "north", 4)
    observer.on_shard_started(work, 1)
    results = []
    for i in range(n):
        clock.t += 1.0
        r = result(i) if i % 3 else result(i, outcome=Outcome.QUARANTINED,
                                           reason=Reason.SLICE_GAP, category=None)
        results.append(r)
        observer.on_study_done(r)
        if r.outcome is not Outcome.SCREENED:
            observer.on_quarantine(r)
        observer.on_triton_request("grpc://user:secret@10.0.0.5:8001/x", "ok", 0.8)
    observer.on_triton_request("grpc://10.0.0.5:8001", "retryable", 3.0)
    observer.on_shard_committed(work, results, 0.12)
    observer.on_shard_started(shard("s2", "south", 2), 1)
    observer.on_shard_retry(shard("s2", "south", 2), "worker_lost", 1.0)


def test_names_follow_prometheus_conventions(wired) -> None:
    registry, observer, _, clock, _ = wired
    drive(observer, clock)
    for fam in registry.collect():
        assert re.fullmatch(r"lungscreen_[a-z0-9_]+", fam.name), fam.name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples), fam.name
        if fam.type == "histogram":
            assert fam.name.endswith("_seconds"), fam.name
        if fam.type == "info":
            assert fam.name.endswith("_info") or f"{fam.name}_info" in {s.name for s in fam.samples}
        for s in fam.samples:
            assert set(s.labels) <= ALLOWED_LABELS, (s.name, s.labels)
            assert not re.search(r"_(ms|milliseconds|us|minutes|hours|bytes_total_total)$",
                                 s.name)


def test_exposition_has_no_phi_canary_nor_per_study_label(wired) -> None:
    registry, observer, _, clock, _ = wired
    drive(observer, clock)
    text = generate_latest(registry).decode()
    assert CANARY not in text
    assert "secret" not in text and "user@" not in text
    for bad in ("study", "patient", "pid", "site", "uid", "shard"):
        assert not re.search(rf'[{{,]{bad}[a-z_]*="', text), bad


def test_store_derived_counts_and_zero_initialised_labels(wired) -> None:
    registry, observer, _, clock, _ = wired
    drive(observer, clock)
    f = families(registry)
    assert value(f, "lungscreen_studies_total", region="north", outcome="screened") == 3
    assert value(f, "lungscreen_studies_total", region="south", outcome="quarantined") == 0
    # ops see screened and quarantined only: no opt-out series, no Lung-RADS family, and
    # quarantine reasons per campaign once they reach the floor (1 slice_gap: not yet)
    outcomes = {lab["outcome"] for _, lab, _ in f["lungscreen_studies"]}
    assert outcomes == {"screened", "quarantined"}
    assert "lungscreen_lungrads" not in f and f["lungscreen_quarantines"] == []
    assert value(f, "lungscreen_studies_planned", region="north") == 10
    # north: 5 planned, 2 done, the canary shard committed -> 0 running, 3 pending
    assert value(f, "lungscreen_shards", region="north", state="done") == 2
    assert value(f, "lungscreen_shards", region="north", state="running") == 0
    assert value(f, "lungscreen_shards", region="north", state="pending") == 3
    assert value(f, "lungscreen_campaign_studies_remaining", campaign="c1") == 10
    assert value(f, "lungscreen_campaign_deadline_timestamp_seconds", campaign="c1") == 9000.0
    assert value(f, "lungscreen_campaign_required_throughput_studies_per_second",
                 campaign="c1") == pytest.approx(10 / 4000.0)


def test_process_metrics_record_stages_triton_and_failures(wired) -> None:
    registry, observer, _, clock, _ = wired
    drive(observer, clock)
    f = families(registry)
    assert value(f, "lungscreen_stage_duration_seconds_count", stage="infer") == 6
    assert value(f, "lungscreen_stage_duration_seconds_count", stage="commit") == 1
    assert value(f, "lungscreen_stage_duration_seconds_bucket", stage="infer", le="2.5") == 6
    assert value(f, "lungscreen_stage_duration_seconds_bucket", stage="infer", le="1.0") == 0
    assert value(f, "lungscreen_study_duration_seconds_sum", region="north") == pytest.approx(
        6 * 1.65)
    server = "grpc://10.0.0.5:8001"
    assert value(f, "lungscreen_triton_requests_total", server=server, outcome="ok") == 6
    assert value(f, "lungscreen_triton_requests_total", server=server, outcome="retryable") == 1
    assert value(f, "lungscreen_triton_requests_total", server=server, outcome="permanent") == 0
    assert value(f, "lungscreen_triton_request_duration_seconds_count", server=server) == 7
    assert value(f, "lungscreen_shard_failures_total", region="south", error="worker_lost") == 1
    assert value(f, "lungscreen_build_info", version="0.1.0") == 1
    assert value(f, "lungscreen_model_info", model="lung_nodule_detector", version="1") == 1


def test_live_throughput_eta_and_in_flight(wired) -> None:
    registry, observer, _live, clock, _ = wired
    observer.on_plan("c1", {"north": 10}, {})
    observer.on_shard_started(shard("a", "north", 5, planned=1), 1)  # 4 to run
    for _ in range(3):
        clock.t += 2.0
        observer.on_study_done(result(1))
    f = families(registry)
    assert value(f, "lungscreen_studies_in_flight", campaign="c1") == 4
    assert value(f, "lungscreen_shards", region="north", state="running") == 1
    assert value(f, "lungscreen_throughput_studies_per_second", campaign="c1") == 0.5
    assert value(f, "lungscreen_campaign_eta_seconds", campaign="c1") == 20.0
    clock.t += 600.0  # the window empties: no pace, so no ETA is claimed
    f = families(registry)
    assert value(f, "lungscreen_throughput_studies_per_second", campaign="c1") == 0
    assert "lungscreen_campaign_eta_seconds" not in {s[0] for v in f.values() for s in v}


def test_counts_survive_a_driver_restart_because_they_come_from_the_store(wired) -> None:
    registry, observer, _, clock, state = wired
    drive(observer, clock)
    before = value(families(registry), "lungscreen_studies_total", region="north",
                   outcome="screened")
    # a new driver process: fresh registry and live state, same store
    fresh = CollectorRegistry()
    Metrics(fresh, version="0.1.0")
    fresh.register(CampaignCollector(lambda: state["progress"], LiveState()))
    after = families(fresh)
    assert value(after, "lungscreen_studies_total", region="north", outcome="screened") == before
    assert value(after, "lungscreen_shards", region="north", state="done") == 2
    state["progress"] = [progress(done_north=5)]
    assert value(families(fresh), "lungscreen_studies_total", region="north",
                 outcome="screened") == 5


def test_a_failing_store_does_not_break_the_scrape() -> None:
    registry = CollectorRegistry()
    Metrics(registry, version="x")

    def broken() -> list[CampaignProgress]:
        raise OSError("database is locked")

    registry.register(CampaignCollector(broken))
    text = generate_latest(registry).decode()
    assert "lungscreen_build_info" in text


def test_exporter_serves_on_loopback_free_port() -> None:
    registry = CollectorRegistry()
    Metrics(registry, version="9.9")
    exporter = start_exporter(registry, port=0)
    try:
        assert exporter.addr == "127.0.0.1" and exporter.port > 0
        body = urllib.request.urlopen(exporter.url, timeout=5).read().decode()
        assert 'lungscreen_build_info{version="9.9"} 1.0' in body
        with pytest.raises(BadInput, match="choose another port"):
            start_exporter(registry, port=exporter.port)
    finally:
        exporter.stop()


def test_start_monitoring_wires_everything() -> None:
    mon = start_monitoring(MonitoringConfig(port=0), lambda: [progress()], version="1.2")
    try:
        mon.observer("c1").on_shard_started(shard("x", "north", 2), 1)
        assert mon.exporter is not None
        body = urllib.request.urlopen(mon.exporter.url, timeout=5).read().decode()
        assert 'lungscreen_shards{campaign="c1",region="north",state="running"} 1.0' in body
    finally:
        mon.stop()
    with pytest.raises(BadInput, match="not an IP address"):
        MonitoringConfig(addr="localhost")
    with pytest.raises(BadInput, match="out of range"):
        MonitoringConfig(port=70000)


@pytest.mark.parametrize(("url", "label"), [
    ("grpc://user:pw@10.0.0.5:8001/v2?x=1", "grpc://10.0.0.5:8001"),
    ("localhost:8001", "localhost:8001"),
    ("http://[::1]:8000", "http://[::1]:8000"),
])
def test_server_label_strips_credentials_and_paths(url: str, label: str) -> None:
    assert server_label(url) == label


def test_bounded_vocabularies(wired) -> None:
    registry, observer, _, _, _ = wired
    assert triton_outcome("OK") == "ok"
    assert triton_outcome(CANARY) == "permanent"
    observer.on_shard_retry(shard("z", "north", 1), CANARY, 1.0)
    text = generate_latest(registry).decode()
    assert CANARY not in text and 'error="other"' in text
    from datetime import date
    assert deadline_timestamp(date(2027, 3, 31)) == pytest.approx(1806537600 - 1e-6, abs=1e-3)


def test_metrics_bench_reports_every_figure() -> None:
    from bench.metrics import run_metrics_bench

    bench = run_metrics_bench(runs=1, studies=10, campaign=False)
    assert set(bench.ops_per_s) >= {"observer.on_study_done", "observer.on_triton_request"}
    assert all(rate > 0 for rate in bench.ops_per_s.values())
    assert bench.scrape_bytes > 0 and bench.store_results == 1000
    assert "not measured" in "\n".join(bench.lines())
    assert json.loads(bench.to_json())["runs"] == 1
