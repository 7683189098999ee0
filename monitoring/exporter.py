"""The HTTP metrics endpoint, and the one call that wires metrics for a driver.

    exporter = start_exporter(registry, port=9464)    # 127.0.0.1 by default
    ...                                               # exporter.port is the bound port
    exporter.stop()

`MonitoringConfig` is validated at the edge (CLI or spec) and passed down; `start_monitoring`
builds the registry, metrics, live state, store collector and observer in one go.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from datetime import date, datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from kernel.errors import BadInput
from monitoring.collector import CampaignCollector, ProgressSource
from monitoring.health import TritonHealthCollector
from monitoring.live import DEFAULT_WINDOW_S, LiveState
from monitoring.metrics import Metrics
from monitoring.observer import PrometheusObserver

__all__ = ["DEFAULT_PORT", "Exporter", "Monitoring", "MonitoringConfig", "start_exporter",
           "start_monitoring"]

DEFAULT_PORT = 9464
_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class MonitoringConfig:
    """Where the driver serves /metrics. port 0: a free port; enabled False: no endpoint."""

    enabled: bool = True
    port: int = DEFAULT_PORT
    addr: str = _LOOPBACK
    throughput_window_s: float = DEFAULT_WINDOW_S

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise BadInput(f"metrics port {self.port} is out of range; expected 0..65535")
        try:
            ipaddress.ip_address(self.addr)
        except ValueError as exc:
            raise BadInput(
                f"metrics address {self.addr!r} is not an IP address; use 127.0.0.1 "
                "(default) or 0.0.0.0 to serve every interface"
            ) from exc
        if self.throughput_window_s <= 0:
            raise BadInput(
                f"throughput window {self.throughput_window_s} s must be > 0 (default 300)"
            )


@dataclass
class Exporter:
    """A running metrics endpoint."""

    addr: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_exporter(
    registry: CollectorRegistry, port: int = DEFAULT_PORT, addr: str = _LOOPBACK
) -> Exporter:
    """Serve `registry` on http://addr:port/metrics in a daemon thread; port 0 = free port.

    Raises BadInput when the port is taken (say which, and how to choose another).
    """
    try:
        server, thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise BadInput(
            f"cannot serve metrics on {addr}:{port} ({exc.strerror}); choose another port "
            "(0 picks a free one) or disable the exporter"
        ) from exc
    return Exporter(addr, int(server.server_address[1]), server, thread)


@dataclass
class Monitoring:
    """Everything a driver needs: `observer(campaign_id, ...)` for the driver, the
    `triton_hook` for the Triton client, `stop()` at the end."""

    registry: CollectorRegistry
    metrics: Metrics
    live: LiveState
    exporter: Exporter | None

    def observer(
        self,
        campaign_id: str,
        *,
        model: str = "",
        model_version: str = "",
        deadline: date | datetime | float | None = None,
        triton_urls: tuple[str, ...] = (),
    ) -> PrometheusObserver:
        """The CampaignObserver to pass to the driver for `campaign_id`."""
        return PrometheusObserver(
            self.metrics, self.live, campaign_id, model=model, model_version=model_version,
            deadline=deadline, triton_urls=triton_urls,
        )

    def triton_hook(self, server: str, outcome: str, seconds: float) -> None:
        """`TritonBackend(on_request=monitoring.triton_hook)` (in this process)."""
        self.metrics.observe_triton(server, outcome, seconds)

    def stop(self) -> None:
        if self.exporter is not None:
            self.exporter.stop()


def start_monitoring(
    config: MonitoringConfig,
    source: ProgressSource,
    version: str,
    triton_urls: tuple[str, ...] = (),
) -> Monitoring:
    """A fresh registry with the process metrics, the store collector and (given Triton
    URLs) the readiness probe, served on config's address if enabled.

    `source` returns the progress of the campaigns this driver runs (see
    jobs.run.store_progress.store_source).
    """
    registry = CollectorRegistry()
    metrics = Metrics(registry, version)
    live = LiveState(config.throughput_window_s)
    registry.register(CampaignCollector(source, live))
    if triton_urls:
        registry.register(TritonHealthCollector(triton_urls))
    exporter = start_exporter(registry, config.port, config.addr) if config.enabled else None
    return Monitoring(registry, metrics, live, exporter)
