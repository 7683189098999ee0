"""One driver per campaign: the lease in the results store (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jobs.store import ResultsStore
from jobs.store.lease import CampaignBusy, DriverLease


@pytest.fixture
def store(store_url: str):
    with ResultsStore.open(store_url) as s:
        s.ensure_campaign("c1", spec_digest="d" * 64, model_name="lung_nodule_detector",
                          model_version="1")
        yield s


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_live_driver_keeps_the_campaign_and_release_frees_it(store: ResultsStore) -> None:
    first = DriverLease(store, "c1", host="node-a", pid=os.getpid())
    first.acquire()
    second = DriverLease(store, "c1", host="node-a", pid=os.getppid())  # alive, not us
    with pytest.raises(CampaignBusy, match=f"process {os.getpid()} on node-a"):
        second.acquire()
    other_host = DriverLease(store, "c1", host="node-b", pid=os.getpid())
    with pytest.raises(CampaignBusy):
        other_host.acquire()
    first.renew()
    first.release()
    second.acquire()  # free again
    DriverLease(store, "c2").acquire()  # leases are per campaign


def test_a_killed_driver_on_this_host_is_taken_over_at_once(store: ResultsStore) -> None:
    dead = DriverLease(store, "c1", host="node-a", pid=_dead_pid())
    dead.acquire()
    resumed = DriverLease(store, "c1", host="node-a", pid=os.getpid())
    resumed.acquire()
    dead._renewed = None  # force the write: the old driver would stop at its next renewal
    with pytest.raises(CampaignBusy, match="took over"):
        dead.renew()
    resumed.renew()


def test_a_killed_but_unreaped_driver_counts_as_dead(store: ResultsStore) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # exited, not yet reaped: a zombie
            if Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] == "Z":
                break
            time.sleep(0.05)
        DriverLease(store, "c1", host="node-a", pid=child.pid).acquire()
        DriverLease(store, "c1", host="node-a", pid=os.getpid()).acquire()
    finally:
        child.wait()


def test_a_silent_driver_elsewhere_is_taken_over_after_the_lease_lapses(
        store: ResultsStore) -> None:
    DriverLease(store, "c1", ttl_s=0.0, host="node-b", pid=1).acquire()
    DriverLease(store, "c1", ttl_s=0.0, host="node-a", pid=os.getpid()).acquire()
    with pytest.raises(CampaignBusy):
        DriverLease(store, "c1", ttl_s=300.0, host="node-c", pid=1).acquire()


def test_two_drivers_starting_together_do_not_both_win(store_url: str) -> None:
    with ResultsStore.open(store_url) as a, ResultsStore.open(store_url) as b:
        a.ensure_campaign("c1", spec_digest="d" * 64, model_name="m", model_version="1")
        barrier = threading.Barrier(2)
        won: list[bool] = []

        def start(s: ResultsStore, host: str) -> None:
            lease = DriverLease(s, "c1", host=host, pid=os.getpid())
            barrier.wait()
            try:
                lease.acquire()
                won.append(True)
            except CampaignBusy:
                won.append(False)

        threads = [threading.Thread(target=start, args=(s, h)) for s, h in ((a, "x"), (b, "y"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(won) == [False, True]
