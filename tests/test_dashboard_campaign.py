"""The dashboard against a REAL small campaign: `run_campaign` on local Ray (with its
metrics agent) and a real Triton (serving the test-only slow detector: the figures are the
system's, not the model's), the exporter wired as `lungscreen campaign run --metrics-port`
wires it, and a real Prometheus scraping all three every second. Each panel query must
return data at some point while the campaign runs (or just after), except the panels listed
with their reason."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitoring.scrape_config import render_config
from tests.campaign_helpers import (
    free_port,
    region_folders,
    run_spec,
    write_cohort_once,
    write_spec,
)
from tests.store_helpers import audit_key
from tests.test_dashboard import (
    EXPECTED_EMPTY,
    _has_value,
    ask,
    load_dashboard,
    panel_queries,
)
from tests.test_metrics import ALLOWED_LABELS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Panels a real Ray campaign cannot fill yet, with the reason (queries still checked valid).
# Every other panel has data in a Ray campaign (the workers' Triton attempts travel back with
# their shard outcomes to the driver's exporter).
NOT_IN_A_RAY_CAMPAIGN: dict[str, str] = {
    "Quarantines by reason": "8 studies count no quarantine reason 11 times (the deployment "
                             "floor, kernel.defaults.MIN_CELL): no reason series is exported",
}


class Background(threading.Thread):
    """Runs `target()` in a thread; `.result` / `.error` after join."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def ray_with_metrics() -> Iterator[Path]:
    import ray

    if ray.is_initialized():  # a connection another test left: start this node afresh
        ray.shutdown()
    folder = Path(tempfile.mkdtemp(prefix="lsray", dir="/tmp"))
    ray.init(num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
             _temp_dir=str(folder), logging_level="ERROR", log_to_driver=False,
             namespace="lungscreen", object_store_memory=128 * 1024 * 1024)
    try:
        yield folder / "prom_metrics_service_discovery.json"
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def test_every_panel_has_data_during_a_real_campaign(
    prometheus_factory, ray_with_metrics: Path, tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from jobs.run.driver import DriverSettings
    from jobs.run.lifecycle import CampaignRun, RunOptions
    from jobs.run.metrics_exporter import campaign_metrics
    from jobs.spec.campaign_spec import load_spec
    from jobs.store import ResultsStore
    from tests.servers.triton import SLOW_MODEL, start_test_triton

    cohort = write_cohort_once(studies=8, regions=2,
                               seed=29, defects=True)
    # the test-only model (contract v1, finds nothing, sleeps per request, queue of one):
    # the dashboard is about the system's figures, not the model's findings
    with start_test_triton() as triton:
        spec = load_spec(write_spec(
            tmp_path / "c.yaml", {n: [f] for n, f in region_folders(cohort).items()},
            campaign_id="dash-campaign", triton={"urls": [f"grpc://{triton.grpc_url}"]},
            model={"name": SLOW_MODEL, "version": 1},
            shard_size=2, max_shards_in_flight=1, deadline="2030-01-01",
            data_dir=str(tmp_path / "data"),
        ))
        port = free_port()
        metrics_host = triton.metrics_url.split("//", 1)[1].split("/", 1)[0]
        prom = prometheus_factory(render_config(
            lungscreen=[f"127.0.0.1:{port}"], triton=[metrics_host],
            ray_sd_file=ray_with_metrics, scrape_interval_s=1))
        queries = panel_queries(load_dashboard())
        seen: set[tuple[str, str]] = set()
        failed: list[tuple[str, str, object]] = []
        with campaign_metrics(spec, port) as observer:
            options = RunOptions(observers=(observer,), driver=DriverSettings(poll_s=0.2))
            run = Background(lambda: run_spec(spec, options))
            run.start()
            deadline = time.monotonic() + 600
            # poll while it runs, then for a few scrapes after it finished
            finished_at: float | None = None
            while time.monotonic() < deadline:
                for title, expr in queries:
                    if (title, expr) in seen:
                        continue
                    answer = ask(prom, title, expr)
                    if answer["status"] != "success":
                        failed.append((title, expr, answer.get("error")))
                        seen.add((title, expr))
                    elif _has_value(answer["data"]["result"]):
                        seen.add((title, expr))
                if not run.is_alive():
                    finished_at = finished_at or time.monotonic()
                    if time.monotonic() - finished_at > 8:
                        break
                time.sleep(1.0)
            run.join(timeout=60)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                exposition = r.read().decode()
            # scraped after the last commit, while the exporter still serves
            got = prom.series('sum(lungscreen_studies_total{campaign="dash-campaign"})')
        assert run.error is None, run.error
        result = run.result
        assert isinstance(result, CampaignRun) and result.state == "done", result
        assert not failed, failed
        skip = set(EXPECTED_EMPTY) | set(NOT_IN_A_RAY_CAMPAIGN)
        missing = [(t, e) for t, e in queries if (t, e) not in seen and t not in skip]
        assert not missing, f"panels that never had data: {missing}\n{prom.targets()}"
        # no pseudonym of any study or patient of the campaign, no per-study label
        with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
            stored = list(store.results(spec.id))
        assert stored
        for r in stored:
            assert r.study_pid not in exposition and r.patient_pid not in exposition
        labels = set(re.findall(r'[{,]([a-z_]+)="', exposition))
        assert labels <= ALLOWED_LABELS, labels - ALLOWED_LABELS
        assert got and float(got[0]["value"][1]) == sum(result.counts.values())
