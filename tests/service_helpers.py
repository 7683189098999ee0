"""A running `lungscreen serve` app for tests: real uvicorn on a free loopback port, in a
thread, over a real store; `call` speaks real HTTP. `seeded_store`: a SQLite store with
measured campaigns and a token per role."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import requests

from jobs.release import measure_increment
from jobs.service import ServiceConfig, create_app
from jobs.store import ResultsStore, TokenKey
from kernel.roles import Role
from tests.report_results import cohort
from tests.store_helpers import audit_key

__all__ = ["Service", "running_service", "seeded_store"]


class Service:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, token: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@contextlib.contextmanager
def running_service(config: ServiceConfig, forwarded_allow_ips: str | None = None
                    ) -> Iterator[Service]:
    """The app on a free loopback port, trusting forwarded headers as `serve` does."""
    import uvicorn

    from jobs.service.limits import uvicorn_options

    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0,
                                           log_level="warning", access_log=False,
                                           **uvicorn_options(forwarded_allow_ips)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Service(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def seeded_store(folder: Path, campaigns: Sequence[str], studies: int = 150
                 ) -> Iterator[tuple[ResultsStore, TokenKey, dict[Role, str]]]:
    """A SQLite store in `folder` holding `campaigns`, each with `studies` results and one
    measured release increment; its token key and a token per role (named after it)."""
    key = TokenKey.load(folder / "state", create=True)
    with ResultsStore.open(f"sqlite:///{folder / 'svc.db'}", audit_key=audit_key()) as store:
        for i, cid in enumerate(campaigns):
            store.ensure_campaign(cid, spec_digest="d", model_name="m", model_version="1")
            store.commit_results(cid, cohort(studies, seed=i))
            assert measure_increment(store, cid) is not None
        tokens = {r: store.create_token(f"{r.value}-tok", r, key=key) for r in Role}
        yield store, key, tokens
