"""One caller cannot hold the service, over real HTTP: with its reports made slow, an
analyst's third report in flight is answered 429 with Retry-After at once, while another
analyst and the authority are still served; the first two finish, the slots come back, and
the refusal is audited under the caller's name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import jobs.release
import jobs.report
from jobs.release import measure_increment
from jobs.service import ServiceConfig
from jobs.store import ResultsStore, TokenKey
from kernel.roles import Role
from tests.report_results import cohort
from tests.service_helpers import running_service
from tests.store_helpers import audit_key

CID = "busy-1"
REPORT = f"/api/v1/campaigns/{CID}/report?by=region,site"


class Gate:
    """Wraps a table builder: the first `hold` calls wait until opened, later ones run."""

    def __init__(self, real: Any, hold: int) -> None:
        self.real, self.hold, self.entered = real, hold, 0
        self.opened, self.full = threading.Event(), threading.Event()
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.entered += 1
            waits = self.entered <= self.hold
            if self.entered == self.hold:
                self.full.set()
        if waits:
            assert self.opened.wait(30)
        return self.real(*args, **kwargs)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ResultsStore, TokenKey, dict[str, str]]]:
    key = TokenKey.load(tmp_path / "state", create=True)
    with ResultsStore.open(f"sqlite:///{tmp_path / 'svc.db'}", audit_key=audit_key()) as store:
        store.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1")
        store.commit_results(CID, cohort(200, seed=5))
        assert measure_increment(store, CID) is not None
        tokens = {name: store.create_token(name, role, key=key) for name, role in
                  (("ann", Role.ANALYST), ("bob", Role.ANALYST), ("dr-a", Role.AUTHORITY))}
        yield store, key, tokens


@pytest.mark.parametrize("builder", ["released", "exact"])
def test_one_identity_is_held_at_two_reports_while_others_are_served(
        setup, monkeypatch: pytest.MonkeyPatch, builder: str) -> None:
    store, key, tokens = setup
    module, name, holder, other = ((jobs.release, "released_table", "ann", "bob")
                                   if builder == "released" else
                                   (jobs.report, "campaign_report", "dr-a", "ann"))
    gate = Gate(getattr(module, name), hold=2)
    monkeypatch.setattr(module, name, gate)
    with running_service(ServiceConfig(store, token_key=key)) as svc, \
            ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(svc.call, "GET", REPORT, tokens[holder]) for _ in range(2)]
        assert gate.full.wait(30)  # both of the holder's reports are in flight
        third = svc.call("GET", REPORT, tokens[holder])
        assert third.status_code == 429 and third.headers["Retry-After"] == "10"
        assert "in flight" in third.json()["detail"]
        assert svc.call("GET", REPORT, tokens[other]).status_code == 200  # not held
        gate.opened.set()
        assert [f.result(timeout=60).status_code for f in slow] == [200, 200]
        assert svc.call("GET", REPORT, tokens[holder]).status_code == 200  # slots returned
    busy = [e.detail for e in store.events() if e.kind == "api_request"
            and e.detail["status"] == 429]
    assert busy == [busy[0]] and busy[0]["who"] == holder and busy[0]["refusal"] == "busy"
    assert store.verify_trail().ok


def test_a_failing_report_gives_its_slot_back(setup, monkeypatch) -> None:
    store, key, tokens = setup
    config = ServiceConfig(store, token_key=key, expensive_in_flight=1)
    with running_service(config) as svc:
        for _ in range(3):  # 400s (a bad grouping) and 200s: each returns its slot
            assert svc.call("GET", f"/api/v1/campaigns/{CID}/report?by=nope",
                            tokens["ann"]).status_code == 400
            assert svc.call("GET", REPORT, tokens["ann"]).status_code == 200
