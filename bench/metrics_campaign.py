"""`lungscreen bench metrics`, the campaign: the same small campaign with and without
metrics (the exporter served and scraped every second, as a short-interval Prometheus
would), through the product's own steps (jobs.run: prepare, then drive)."""

from __future__ import annotations

import importlib
import logging
import statistics
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.run import (
    DriverSettings,
    Prepared,
    RunOptions,
    campaign_key,
    drive,
    inference_backend,
    open_executor,
    prepare,
    store_source,
)
from jobs.spec import parse_spec
from jobs.store import AuditKey, ResultsStore
from monitoring.exporter import MonitoringConfig, start_monitoring

__all__ = ["Target", "campaign_rates"]

log = logging.getLogger("monitoring")


@dataclass(frozen=True)
class Target:
    """The Triton servers (none: the bundled one) and the model they serve."""

    triton_urls: tuple[str, ...] = ()
    model_name: str | None = None
    model_version: str = "1"


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


def campaign_rates(runs: int, studies: int, root: Path, target: Target) -> dict[str, float]:
    """Median studies/s of the same campaign with and without metrics (runs interleaved)."""
    # looked up at run time: the cohort writer is optional here (ImportError says so)
    write_cohort = getattr(importlib.import_module("synth"), "write_cohort", None)
    if write_cohort is None:
        raise ImportError("synth.write_cohort", name="synth.write_cohort")
    cohort = root / "cohort"
    write_cohort(cohort, studies=studies, regions=1, seed=5, profile="small", defects=False)
    doc: dict[str, Any] = {"id": "mbench", "regions": [{"name": "r", "sources": [
        {"folder": str(cohort)}]}], "shard_size": 2, "max_shards_in_flight": 4,
        "data_dir": str(root / "data"),
        "privacy": {"key_file": str(root / "keys" / "pseudonym.key")}}
    if target.triton_urls:
        doc["triton"] = {"urls": list(target.triton_urls)}
    if target.model_name:
        doc["model"] = {"name": target.model_name, "version": target.model_version}
    spec = parse_spec(doc, base_dir=root, state_dir=root / "state")
    key = campaign_key(spec.key_path, None, "bench", create=True)
    options = RunOptions()
    rates: dict[str, list[float]] = {"without_metrics": [], "with_metrics": []}
    first: Prepared | None = None
    with inference_backend(spec, options) as backend, \
            open_executor(spec, options, backend) as executor:
        for i in range(runs * 2 + 1):  # run 0 warms Ray workers and the model up
            with_metrics = i % 2 == 1
            store = ResultsStore.open(f"sqlite:///{root / f'mbench-{i}.db'}",
                                      audit_key=AuditKey.load(root / "state"))
            try:
                store.ensure_campaign(spec.id, spec_digest=f"mbench-{i}",
                                      model_name=spec.model.name,
                                      model_version=spec.model.version)
                prepared = prepare(spec, store, key, intake=first.intake if first else None)
                first = first or prepared
                mon = (start_monitoring(MonitoringConfig(port=0), store_source(store, [spec.id]),
                                        "bench") if with_metrics else None)
                try:
                    scrape = (_scraper(mon.exporter.url) if mon is not None and mon.exporter
                              else _nothing())
                    with scrape:
                        run = drive(prepared, backend, executor,
                                    [mon.observer(spec.id)] if mon is not None else [],
                                    DriverSettings(poll_s=0.2))
                finally:
                    if mon is not None:
                        mon.stop()
            finally:
                store.close()
            if i > 0 and run.report is not None:
                rate = sum(run.report.outcomes.values()) / run.report.wall_s
                rates["with_metrics" if with_metrics else "without_metrics"].append(rate)
                log.info("campaign run %d (%s metrics): %.3f studies/s", i,
                         "with" if with_metrics else "without", rate)
    return {k: statistics.median(v) for k, v in rates.items()}


@contextmanager
def _nothing() -> Iterator[None]:
    yield
