"""The Grafana dashboard against a real Prometheus scraping the real system: the lungscreen
exporter (real results store, the campaign observer), a real Triton server, and a real Ray
node through Ray's service-discovery file. Every panel query must return data, except the
panels listed in EXPECTED_EMPTY (with the reason), whose queries must still be valid."""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitoring.scrape_config import render_config

DASHBOARD = Path(__file__).resolve().parent.parent / "monitoring" / "dashboards" / "lungscreen.json"

# Panels whose source cannot exist on a machine without a GPU.
EXPECTED_EMPTY = {
    "GPU utilisation": "Triton exports nv_gpu_* only when it runs on a GPU; this machine has none",
}
# Grafana's variables, as Grafana would expand them for a short range.
VARIABLES = {"$__rate_interval": "20s", "$__range": "10m", "$__interval": "5s",
             "$campaign": ".*", "$region": ".*", "$triton": ".*", "$node": ".*"}
# Panels Grafana draws from one value per series (bar charts, bar gauges): instant queries.
INSTANT_TYPES = ("barchart", "bargauge")


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression with Grafana variables expanded) for every query."""
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in VARIABLES.items():
                expr = expr.replace(var, value)
            out.append((panel["title"], expr))
    return out


def instant_titles(dashboard: dict[str, Any]) -> set[str]:
    return {p["title"] for p in dashboard["panels"] if p["type"] in INSTANT_TYPES}


def ask(prom: Any, title: str, expr: str) -> dict[str, Any]:
    """The panel's query as Grafana sends it: instant for bar charts, else over a range; a
    range answer is reduced to each series' latest sample so `_has_value` reads both."""
    if title in instant_titles(load_dashboard()):
        return dict(prom.query(expr))
    answer = dict(prom.query_range(expr))
    if answer.get("status") == "success":
        assert answer["data"]["resultType"] == "matrix", (title, answer["data"]["resultType"])
        answer["data"]["result"] = [{"metric": s["metric"], "value": s["values"][-1]}
                                    for s in answer["data"]["result"] if s["values"]]
    return answer


def test_dashboard_filters_and_units() -> None:
    dash = load_dashboard()
    names = [v["name"] for v in dash["templating"]["list"]]
    assert {"region", "triton", "node"} <= set(names)
    units = {p["title"]: p.get("fieldConfig", {}).get("defaults", {}).get("unit")
             for p in dash["panels"]}
    assert units["Throughput"] == "suffix: studies/s"
    assert [t for t, u in units.items() if u == "reqps" and "Triton" not in t] == []
    regional = ("lungscreen_studies_total", "lungscreen_studies_planned", "lungscreen_shards{",
                "lungscreen_study_duration_seconds_bucket")
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            if any(m in expr for m in regional):
                assert 'region=~"$region"' in expr, (panel["title"], expr)
            # the clinical mix is not in the ops metrics; quarantine reasons are per campaign
            assert "lungrads" not in expr, (panel["title"], expr)
            if "lungscreen_quarantines_total" in expr:
                assert "region" not in expr, (panel["title"], expr)
            if "nv_" in expr:
                assert 'instance=~"$triton"' in expr, (panel["title"], expr)
            if "ray_node_" in expr:
                assert 'instance=~"$node"' in expr, (panel["title"], expr)
            if panel["type"] in INSTANT_TYPES:
                assert target.get("instant") is True and target.get("format") == "table"
                assert target.get("range") is False, panel["title"]


def test_dashboard_shape() -> None:
    dash = load_dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names[:2] == ["datasource", "campaign"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in dash["panels"]}
    assert set(EXPECTED_EMPTY) <= titles
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert "$" not in re.sub(
                r"\$(__rate_interval|__range|__interval|campaign|region|triton|node)\b", "",
                                     target["expr"]), target["expr"]
    # what the issue asks to see
    for must in ("Progress per region", "Throughput", "Stage latency p50 / p95",
                 "Quarantines by reason", "Triton queue time per request",
                 "Triton compute time per request", "GPU utilisation", "Ray node CPU"):
        assert must in titles, must


@pytest.fixture
def ray_with_metrics() -> Iterator[Path]:
    """A local Ray node with its metrics agent; yields its service-discovery file."""
    import ray

    if ray.is_initialized():  # a connection another test left: start this node afresh
        ray.shutdown()
    # a short folder: Ray's unix sockets must fit in 107 characters
    folder = Path(tempfile.mkdtemp(prefix="lsray", dir="/tmp"))
    ray.init(num_cpus=1, include_dashboard=True, dashboard_host="127.0.0.1",
             _temp_dir=str(folder), logging_level="ERROR", log_to_driver=False,
             object_store_memory=128 * 1024 * 1024)
    try:
        yield folder / "prom_metrics_service_discovery.json"
    finally:
        ray.shutdown()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.slow
def test_every_panel_has_data(prometheus_factory, ray_with_metrics, tmp_path: Path) -> None:
    from cluster.triton.client import TritonBackend, TritonClientConfig
    from jobs.run.planning import plan_shards
    from jobs.run.shardwork import ShardWork, StudyWork
    from jobs.run.store_progress import store_source
    from jobs.store import ResultsStore
    from kernel.lungrads import Category
    from kernel.reasons import Reason
    from kernel.records import Outcome, StudyRecord, StudyResult
    from monitoring.exporter import MonitoringConfig, start_monitoring
    from tests.servers.triton import SLOW_MODEL, start_test_triton

    triton = start_test_triton()
    store = ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}")
    mon = None
    try:
        store.ensure_campaign("dash", spec_digest="0" * 64, model_name=SLOW_MODEL,
                              model_version="1")
        records = {
            f"s{i:02d}": StudyRecord(f"s{i:02d}", f"p{i:02d}", "north" if i % 2 else "south",
                                     "site-a", "60-64", "F")
            for i in range(8)
        }
        # quarantined at selection, before the run: enough of one reason (the deployment
        # floor, 11) for the campaign's quarantines-by-reason series to be exported
        early = [StudyResult(f"e{i:02d}", f"pe{i:02d}", "north", "site-a", "60-64", "F",
                             Outcome.QUARANTINED, SLOW_MODEL, "1", reason=Reason.SLICE_GAP)
                 for i in range(11)]
        store.commit_results("dash", early)
        store.record_plan("dash", plan_shards(records.values(), 2))
        mon = start_monitoring(
            MonitoringConfig(port=0, throughput_window_s=60),
            store_source(store, ["dash"], {"dash": time.time() + 3600}), "test",
            triton_urls=(triton.grpc_url,),
        )
        observer = mon.observer("dash", model=SLOW_MODEL, model_version="1",
                                deadline=time.time() + 3600, triton_urls=(triton.grpc_url,))
        assert mon.exporter is not None
        metrics_host = triton.metrics_url.split("//", 1)[1].split("/", 1)[0]
        config = render_config(
            lungscreen=[f"127.0.0.1:{mon.exporter.port}"], triton=[metrics_host],
            ray_sd_file=ray_with_metrics, scrape_interval_s=1,
        )
        prom = prometheus_factory(config)

        # a small campaign: each study goes to the real Triton (the slow test model sleeps
        # per request), its timings feed the observer, each shard commits to the store
        backend = TritonBackend(
            TritonClientConfig(urls=(triton.grpc_url,), model_name=SLOW_MODEL),
            on_request=mon.triton_hook,
        )
        observer.on_plan("dash", {"north": 4, "south": 4}, {})
        volume = np.zeros((8, 16, 16), dtype=np.int16)
        for n, plan in enumerate(list(store.pending_shards("dash"))):
            work = ShardWork("dash", plan.shard_id, plan.region, tuple(
                StudyWork(records[pid]) for pid in plan.study_pids))
            observer.on_shard_started(work, 1)
            if n == 1:  # one lost worker, retried
                observer.on_shard_retry(work, "worker_lost", 0.1)
                observer.on_shard_started(work, 2)
            results = []
            for pid in plan.study_pids:
                rec = records[pid]
                t0 = time.perf_counter()
                volume.copy()
                t1 = time.perf_counter()
                backend.infer(volume, (2.0, 0.7, 0.7))
                t2 = time.perf_counter()
                quarantined = pid == "s03"
                results.append(StudyResult(
                    rec.study_pid, rec.patient_pid, rec.region, rec.site, rec.age_band,
                    rec.sex, Outcome.QUARANTINED if quarantined else Outcome.SCREENED,
                    SLOW_MODEL, "1",
                    category=None if quarantined else Category.NEGATIVE,
                    reason=Reason.SLICE_GAP if quarantined else None,
                    timings={"load": t1 - t0 + 0.2, "infer": t2 - t1, "postprocess": 0.01}))
            for r in results:
                observer.on_study_done(r)
            t0 = time.perf_counter()
            store.commit_shard("dash", plan.shard_id, results)
            observer.on_shard_committed(work, results, time.perf_counter() - t0)
            time.sleep(1.0)  # let Prometheus scrape between shards, as in a real campaign
        backend.close()

        empty, failed = [], []
        deadline = time.monotonic() + 90
        pending = panel_queries(load_dashboard())
        while pending and time.monotonic() < deadline:
            still = []
            for title, expr in pending:
                answer = ask(prom, title, expr)
                if answer["status"] != "success":
                    failed.append((title, expr, answer.get("error")))
                elif title in EXPECTED_EMPTY:
                    empty.append(title)
                elif not _has_value(answer["data"]["result"]):
                    still.append((title, expr))
            pending = still
            if pending:
                time.sleep(1.0)
        assert not failed, failed
        assert not pending, f"panels without data: {pending}\ntargets: {prom.targets()}"
        assert set(empty) == set(EXPECTED_EMPTY)
        # and the expected-empty ones really are empty here (or the list is stale)
        for title, expr in panel_queries(load_dashboard()):
            if title in EXPECTED_EMPTY:
                assert prom.series(expr) == [], f"{title} has data: drop it from EXPECTED_EMPTY"
        # the progress figure is right, not just present
        progress = prom.series('sum(lungscreen_studies_total{campaign="dash"})')
        assert float(progress[0]["value"][1]) == 8 + 11
        reasons = prom.series('lungscreen_quarantines_total{campaign="dash"}')
        assert [(s["metric"].get("region"), s["metric"]["reason"], s["value"][1])
                for s in reasons] == [(None, "slice_gap", "12")]
        jobs = {t["labels"]["job"] for t in prom.targets() if t["health"] == "up"}
        assert jobs == {"lungscreen", "triton", "ray"}
        # the alert rules, loaded by this Prometheus, evaluate cleanly on the real series
        rules = [r for g in prom.api("rules")["data"]["groups"] for r in g["rules"]]
        assert len(rules) >= 8
        assert all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        firing = {r["name"] for r in rules if r.get("state") == "firing"}
        assert not firing & {"LungscreenTritonDown", "LungscreenTritonNotReady"}, firing
    finally:
        if mon is not None:
            mon.stop()
        store.close()
        triton.stop()


def _has_value(result: list[dict[str, Any]]) -> bool:
    """At least one series with a number (NaN, e.g. 0/0 of an idle rate, is no data)."""
    for series in result:
        value = series.get("value", [0, "NaN"])[1]
        if value not in ("NaN", "+Inf", "-Inf"):
            return True
    return False
