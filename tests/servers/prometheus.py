"""A real Prometheus server (the Debian package's /usr/bin/prometheus) for tests.

`prometheus_factory(config_text)` writes the config into a temp folder, starts Prometheus on
127.0.0.1 with a free port and its TSDB in that folder, waits until it is ready, and stops
it (SIGTERM, then SIGKILL) at the end of the test. `PrometheusServer.query()` runs an
instant query through /api/v1/query; `wait_for()` polls until an expression has data.

Skips when the binary is missing (install the `prometheus` Debian package: .ci/setup).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PrometheusServer", "free_port", "prometheus_factory", "start_prometheus"]

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrometheusServer:
    """A running Prometheus: `url` is http://127.0.0.1:PORT."""

    url: str
    process: subprocess.Popen[bytes]
    folder: Path

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET /api/v1/<path>; the decoded JSON body (also for 4xx answers)."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as exc:  # 400/422 carry the error as JSON
            return dict(json.load(exc))

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query: {"status": "success"|"error", "data": {...}, ...}."""
        return self.api("query", query=expr)

    def query_range(self, expr: str, seconds: float = 120, step_s: float = 5) -> dict[str, Any]:
        """A range query over the last `seconds` (what a Grafana time-series panel asks)."""
        end = time.time()
        return self.api("query_range", query=expr, start=f"{end - seconds:.3f}",
                        end=f"{end:.3f}", step=f"{step_s}")

    def series(self, expr: str) -> list[dict[str, Any]]:
        """The result vector of a successful instant query (AssertionError otherwise)."""
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        return list(answer["data"]["result"])

    def wait_for(self, expr: str, timeout_s: float = 60.0,
                 ok: Callable[[list[dict[str, Any]]], bool] = bool) -> list[dict[str, Any]]:
        """Poll until `ok(result)` holds for `expr`; TimeoutError names the expression."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.series(expr)
            if ok(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"no data for {expr!r} after {timeout_s:.0f} s: {result}")
            time.sleep(0.5)

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets")["data"]["activeTargets"])

    def log_tail(self, chars: int = 3000) -> str:
        log = self.folder / "prometheus.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_prometheus(config_text: str, folder: Path, timeout_s: float = 30.0) -> PrometheusServer:
    """Start Prometheus on a free loopback port with `config_text`; wait until ready."""
    if not Path(BINARY).exists():
        pytest.fail("prometheus missing: apt-get install prometheus (see .ci/setup)")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(config_text)
    last = ""
    for _ in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        log = (folder / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [BINARY, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=folder,
        )
        log.close()
        server = PrometheusServer(f"http://127.0.0.1:{port}", process, folder)
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        last = server.log_tail()
        server.stop()
        if "address already in use" not in last:
            break
    raise RuntimeError(f"prometheus did not become ready; its log ends:\n{last}")


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[str], PrometheusServer]]:
    """Start real Prometheus servers with a config text; all are stopped after the test."""
    started: list[PrometheusServer] = []

    def start(config_text: str) -> PrometheusServer:
        server = start_prometheus(config_text, tmp_path / f"prometheus-{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
