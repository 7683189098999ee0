"""Render a Prometheus configuration with the same jobs as monitoring/prometheus.yml, on
other targets: a test's free ports, a demo's local servers, a one-off capacity run.

The job names (lungscreen, triton, ray) are what alerts.yml and the dashboard select on, so
a rendered config and the shipped one are interchangeable for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ALERTS_PATH", "JOBS", "PROMETHEUS_PATH", "render_config"]

_HERE = Path(__file__).resolve().parent
PROMETHEUS_PATH = _HERE / "prometheus.yml"
ALERTS_PATH = _HERE / "alerts.yml"
JOBS = ("lungscreen", "triton", "ray")
RAY_SD_FILE = Path("/tmp/ray/prom_metrics_service_discovery.json")


def render_config(
    *,
    lungscreen: Sequence[str] = (),
    triton: Sequence[str] = (),
    ray_sd_file: Path | None = RAY_SD_FILE,
    scrape_interval_s: float = 15.0,
    rule_files: Sequence[Path] = (ALERTS_PATH,),
) -> str:
    """The YAML text of a Prometheus config scraping the given `host:port` targets.

    `ray_sd_file` None leaves Ray out; a path makes Prometheus read Ray's service-discovery
    file (it may not exist yet: Prometheus re-reads it as Ray writes it).
    """
    interval = _duration(scrape_interval_s)
    jobs: list[dict[str, Any]] = [
        {"job_name": "lungscreen", "static_configs": [{"targets": list(lungscreen)}]},
        {"job_name": "triton", "metrics_path": "/metrics",
         "static_configs": [{"targets": list(triton)}]},
    ]
    if ray_sd_file is not None:
        jobs.append({
            "job_name": "ray",
            "file_sd_configs": [{"files": [str(ray_sd_file)], "refresh_interval": interval}],
        })
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "scrape_timeout": interval,
            "external_labels": {"system": "lungscreen"},
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": jobs,
    }
    return yaml.safe_dump(config, sort_keys=False)


def _duration(seconds: float) -> str:
    if seconds <= 0:
        raise ValueError(f"scrape interval must be > 0 s, got {seconds}")
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
