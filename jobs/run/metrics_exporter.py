"""Wires the monitoring package's exporter to a campaign run (`--metrics-port`).

The driver itself knows nothing of Prometheus: it calls a CampaignObserver, and this module
builds the monitoring engineer's observer plus an exporter that reads the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping

from jobs.spec.campaign_spec import CampaignSpec
from jobs.spec.secrets import open_spec_store
from kernel.observer import CampaignObserver
from kernel.version import installed_version

__all__ = ["campaign_metrics"]

log = logging.getLogger("jobs")


@contextlib.contextmanager
def campaign_metrics(
    spec: CampaignSpec, port: int, addr: str = "127.0.0.1", env: Mapping[str, str] | None = None
) -> Iterator[CampaignObserver]:
    """Serve /metrics on `addr`:`port` while the block runs; yields the observer to hand
    to the driver."""
    from jobs.run.store_progress import store_source  # prometheus: metrics only
    from monitoring.exporter import MonitoringConfig, start_monitoring  # prometheus: metrics only
    from monitoring.observer import deadline_timestamp  # prometheus: metrics only

    urls = tuple(spec.triton.urls) if spec.triton is not None else ()
    store = open_spec_store(spec, os.environ if env is None else env)
    deadline = deadline_timestamp(spec.deadline)
    deadlines = {spec.id: deadline} if deadline is not None else {}
    try:
        monitoring = start_monitoring(
            MonitoringConfig(port=port, addr=addr), store_source(store, [spec.id], deadlines),
            installed_version(), triton_urls=urls,
        )
        try:
            if monitoring.exporter is not None:
                log.info("metrics on %s", monitoring.exporter.url)
            yield monitoring.observer(
                spec.id, model=spec.model.name, model_version=spec.model.version,
                deadline=spec.deadline, triton_urls=urls,
            )
        finally:
            monitoring.stop()
    finally:
        store.close()
