"""Ray test helpers: a small multi-node cluster on this machine, and finding the worker
process that is running a shard (Ray titles it `ray::shard:<shard id>`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psutil

__all__ = ["BackgroundRun", "local_cluster", "shard_processes", "wait_for"]

# Quick failure detection so a removed node is declared dead in seconds, not a minute.
FAST_FAILURE = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 4,
}


@contextmanager
def local_cluster(nodes: list[Mapping[str, Any]]) -> Iterator[tuple[Any, list[Any]]]:
    """A head without CPUs (nothing runs there) plus `nodes` (kwargs of add_node), with the
    driver connected; shut down and disconnected afterwards."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False,
                        "object_store_memory": 96 * 1024 * 1024,
                        "_system_config": FAST_FAILURE},
    )
    try:
        added = [cluster.add_node(object_store_memory=96 * 1024 * 1024, **n) for n in nodes]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace="lungscreen", log_to_driver=False)
        try:
            yield cluster, added
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


def shard_processes(under: int | None = None) -> list[psutil.Process]:
    """Worker processes running a shard now (optionally only descendants of pid `under`)."""
    if under is not None:
        try:
            candidates = psutil.Process(under).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
    else:
        candidates = list(psutil.process_iter())
    found = []
    for proc in candidates:
        try:
            cmd = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if cmd.startswith("ray::shard:"):
            found.append(proc)
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
