"""`lungscreen bench service`: the service under 50 concurrent analysts (medians of runs).

A SQLite store holds one campaign of `--results` synthetic results (default 100,000; 3
regions x 3 declared sites), measured in 5 increments. The service (`create_app`, uvicorn,
one worker) runs in a process of its own; 50 analysts, each with a token of their own and a
keep-alive connection, each load the campaign page and then ask for a report, cycling
through the groupings an analyst can choose, `--studies` rounds each (default 10). Figures:
p50 and p99 latency of the page and of the report (JSON), and the baseline in the same run:
`/healthz` (no store, no template) under the same 50 clients, and one analyst alone.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.report import synthetic_results
from jobs.release import groupings, measure_increment
from jobs.store import AuditKey, ResultsStore, TokenKey
from kernel.roles import Role

__all__ = ["ServiceBenchOptions", "ServiceFigures", "run_service_bench"]

_CAMPAIGN = "bench-service"


@dataclass(frozen=True)
class ServiceBenchOptions:
    results: int = 100_000
    analysts: int = 50
    rounds: int = 10
    runs: int = 3


@dataclass(frozen=True)
class ServiceFigures:
    options: ServiceBenchOptions
    runs: list[dict[str, Any]] = field(default_factory=list)

    def _median(self, kind: str, stat: str) -> float:
        return float(statistics.median(r[kind][stat] for r in self.runs))

    def lines(self) -> list[str]:
        o = self.options
        out = [f"service: {o.analysts} concurrent analysts x {o.rounds} rounds over "
               f"{o.results:,} results; latency in ms, medians of {len(self.runs)} runs"]
        for kind, label in (("page", "campaign page"), ("report", "report (JSON)"),
                            ("healthz", "baseline /healthz, same clients"),
                            ("alone", "baseline: one analyst's report, alone")):
            out.append(f"  {label:<38} p50 {self._median(kind, 'p50'):8.1f}   "
                       f"p99 {self._median(kind, 'p99'):8.1f}")
        out.append(f"  report p50 / healthz p50: "
                   f"{self._median('report', 'p50') / self._median('healthz', 'p50'):.1f}x; "
                   f"errors: {sum(r['errors'] for r in self.runs)}")
        return out

    def to_json(self) -> str:
        return json.dumps({"options": self.options.__dict__, "runs": self.runs}, indent=2)


def _store(folder: Path, results: int) -> list[str]:
    """The store with one measured campaign; the analysts' tokens."""
    rows = list(synthetic_results(results, seed=1))
    sites: dict[str, set[str]] = {}
    for r in rows:
        sites.setdefault(r.region, set()).add(r.site)
    key = TokenKey.load(folder / "state", create=True)
    with ResultsStore.open(f"sqlite:///{folder / 'svc.db'}",
                           audit_key=AuditKey.load(folder / "state")) as store:
        store.ensure_campaign(_CAMPAIGN, spec_digest="bench", model_name="m", model_version="1",
                              sites={r: sorted(s) for r, s in sites.items()})
        step = -(-len(rows) // 5)
        for at in range(0, len(rows), step):
            store.commit_results(_CAMPAIGN, rows[at:at + step])
            assert measure_increment(store, _CAMPAIGN) is not None
        return [store.create_token(f"analyst-{i}", Role.ANALYST, key=key) for i in range(50)]


def _serve(folder: str, port: int) -> None:  # the service's own process
    import uvicorn  # uvicorn: the service's process

    from jobs.service import ServiceConfig, create_app  # fastapi: the service's process

    state = Path(folder) / "state"
    with ResultsStore.open(f"sqlite:///{Path(folder) / 'svc.db'}", create=False,
                           audit_key=AuditKey.load(state)) as store:
        app = create_app(ServiceConfig(store, token_key=TokenKey.load(state)))
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentiles(times: Sequence[float]) -> dict[str, float]:
    ordered = sorted(times)

    def pick(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": pick(0.5), "p99": pick(0.99), "n": len(ordered)}


def _clients(base: str, tokens: Sequence[str], rounds: int,
             paths: Callable[[int, int], Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """Each token's client in a thread, `rounds` rounds of `paths(client, round)`."""
    times: dict[str, list[float]] = {}
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def client(i: int, token: str) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            start.wait()
            for k in range(rounds):
                for kind, path in paths(i, k):
                    t0 = time.perf_counter()
                    got = http.get(base + path, timeout=120)
                    took = time.perf_counter() - t0
                    with lock:
                        times.setdefault(kind, []).append(took)
                        errors[0] += got.status_code != 200

    threads = [threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**{k: _percentiles(v) for k, v in times.items()}, "errors": errors[0]}


def _one_run(base: str, tokens: Sequence[str], o: ServiceBenchOptions) -> dict[str, Any]:
    by = [",".join(g) for g in groupings()]

    def analyst(i: int, k: int) -> list[tuple[str, str]]:
        g = by[(i + k) % len(by)]
        return [("page", f"/campaigns/{_CAMPAIGN}?by={g}"),
                ("report", f"/api/v1/campaigns/{_CAMPAIGN}/report?by={g}")]

    loaded = _clients(base, tokens[:o.analysts], o.rounds, analyst)
    floor = _clients(base, tokens[:o.analysts], o.rounds, lambda i, k: [("healthz", "/healthz")])
    alone = _clients(base, tokens[:1], o.rounds * 5, lambda i, k: [
        ("alone", f"/api/v1/campaigns/{_CAMPAIGN}/report?by={by[k % len(by)]}")])
    return {**loaded, **floor, **alone,
            "errors": loaded["errors"] + floor["errors"] + alone["errors"]}


def run_service_bench(options: ServiceBenchOptions | None = None) -> ServiceFigures:
    """Serve a measured campaign in a process of its own and time 50 analysts against it."""
    o = options or ServiceBenchOptions()
    if not 1 <= o.analysts <= 50 or o.rounds < 1 or o.runs < 1 or o.results < 1:
        raise ValueError(f"bench service: analysts 1-50, rounds, runs, results >= 1: {o}")
    figures = ServiceFigures(o)
    with tempfile.TemporaryDirectory(prefix="lungscreen-bench-service-") as tmp:
        tokens = _store(Path(tmp), o.results)
        port = _free_port()
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(tmp, port))
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or not server.is_alive():
                    raise RuntimeError("bench service: the service did not start")
                time.sleep(0.2)
            _one_run(base, tokens, ServiceBenchOptions(o.results, o.analysts, 1, 1))  # warm
            figures.runs.extend(_one_run(base, tokens, o) for _ in range(o.runs))
        finally:
            server.terminate()
            server.join(timeout=30)
    return figures
