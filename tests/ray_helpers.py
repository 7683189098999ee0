"""Ray test helpers: a small multi-node cluster on this machine, and finding the worker
process that is running a shard (Ray titles it `ray::shard:<shard id>`)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

__all__ = ["BackgroundRun", "Proc", "all_pids", "local_cluster", "shard_processes", "started",
           "wait_for"]

# Quicker failure detection than Ray's default (3 s x 5 plus a 10 s RPC deadline), so a
# removed node is declared dead in seconds; not quicker still: at 0.5 s x 4, a 2-core machine
# under load missed the surviving node's health checks too, and it was declared dead with
# the removed one.
FAST_FAILURE = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 8,
}


# Ray gives a starting node 30 s (hard-coded in ray._private.node) to register with the GCS.
# On a 2-core CI machine that ran out (a head started right after the previous test's
# cluster shut down; a worker node with model training beside the tests); the retry starts
# the node afresh once the first try's processes are gone, and local_cluster waits for a
# cluster's processes to exit on the way out.
START_ATTEMPTS = 2


def _children_since(before: set[int]) -> list[int]:
    me = os.getpid()
    return [pid for pid in all_pids() if pid not in before and _descends_from(pid, me)]


def _reap(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL what is left after `timeout`; wait until all are gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in pids if _cmdline(pid)]  # exited or a zombie: ""
            if not pids:
                return
            time.sleep(0.1)


def started(start: Callable[[], Any]) -> Any:
    """`start()` (a Ray node's start), tried again when the node timed out registering."""
    for attempt in range(START_ATTEMPTS):
        before = set(all_pids())
        try:
            return start()
        except Exception as exc:
            if "timed out during startup" not in str(exc) or attempt + 1 == START_ATTEMPTS:
                raise
            # the half-started node (raylet, and GCS for a head) is ours to stop: Ray never
            # returned it
            _reap(_children_since(before))
    raise AssertionError("unreachable")


@contextmanager
def local_cluster(nodes: list[Mapping[str, Any]]) -> Iterator[tuple[Any, list[Any]]]:
    """A head without CPUs (nothing runs there) plus `nodes` (kwargs of add_node), with the
    driver connected; shut down and disconnected afterwards, and its processes gone before
    the next test starts one."""
    import ray
    from ray.cluster_utils import Cluster

    before = set(all_pids())
    cluster = started(lambda: Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False, "object_store_memory": 96 * 1024 * 1024,
        "_system_config": FAST_FAILURE}))
    try:
        added = [started(partial(cluster.add_node, object_store_memory=96 * 1024 * 1024, **n))
                 for n in nodes]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace="lungscreen", log_to_driver=False)
        try:
            yield cluster, added
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
        _reap(_children_since(before))


@dataclass(frozen=True)
class Proc:
    """A process seen in /proc: its pid and command line (the title Ray gives it)."""

    pid: int
    cmd: str

    @property
    def shard_id(self) -> str:
        return self.cmd.split("ray::shard:", 1)[1].split()[0]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace").strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        pid = _ppid(pid)
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def shard_processes(under: int | None = None) -> list[Proc]:
    """Worker processes running a shard now (optionally only descendants of pid `under`)."""
    found = []
    for pid in all_pids():
        cmd = _cmdline(pid)
        if cmd.startswith("ray::shard:") and (under is None or _descends_from(pid, under)):
            found.append(Proc(pid, cmd))
    return found


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class BackgroundRun(threading.Thread):
    """Runs `target()` in a thread; `.result` / `.error` after join."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:
            self.error = exc
