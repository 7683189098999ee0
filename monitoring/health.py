"""Triton readiness probes, for the exporter (`lungscreen_triton_ready`) and `status`.

`grpc://host:port` is probed with gRPC ServerReady, `http://host:port` with
GET /v2/health/ready (200 = ready). Each probe has a short timeout and never raises: a
server that cannot be reached is simply not ready.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from monitoring.metrics import server_label

__all__ = ["TritonHealthCollector", "probe_ready"]

log = logging.getLogger("monitoring")


def probe_ready(url: str, timeout_s: float = 1.0) -> bool:
    """True when the Triton server at `url` answers that it is ready."""
    parts = urlsplit(url if "://" in url else f"grpc://{url}")
    if parts.hostname is None or parts.port is None:
        return False
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.scheme in ("http", "https"):
        return _http_ready(f"{parts.scheme}://{host}:{parts.port}/v2/health/ready", timeout_s)
    if parts.scheme == "grpc":
        return _grpc_ready(f"{host}:{parts.port}", timeout_s)
    return False


def _http_ready(url: str, timeout_s: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _grpc_ready(target: str, timeout_s: float) -> bool:
    import tritonclient.grpc as grpcclient  # imported late: grpc start-up is not free
    from tritonclient.utils import InferenceServerException  # tritonclient: probes only

    client = grpcclient.InferenceServerClient(target)
    try:
        return bool(client.is_server_ready(client_timeout=timeout_s))
    except InferenceServerException:
        return False
    except Exception:  # grpc raises its own errors for refused or reset connections
        log.debug("gRPC readiness probe failed", exc_info=True)
        return False
    finally:
        client.close()


class TritonHealthCollector(Collector):
    """Probes each Triton URL at scrape time: `lungscreen_triton_ready{server}` 1 or 0."""

    def __init__(self, urls: Iterable[str], timeout_s: float = 1.0) -> None:
        self._urls = tuple(urls)
        self._timeout = timeout_s

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "lungscreen_triton_ready",
            "1 when the Triton server answers ready to the driver's probe, else 0.",
            labels=["server"],
        )
        for url in self._urls:
            ready.add_metric([server_label(url)], 1.0 if probe_ready(url, self._timeout) else 0.0)
        yield ready
