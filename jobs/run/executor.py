"""The executor seam: where shards run. `RayExecutor` (one Ray task per shard) or
`InProcessExecutor` (a thread in this process, for tests and tiny runs).

Both take a ShardWork, return a handle, and report finished handles through `wait(timeout)`;
`outcome(handle)` gives the ShardOutcome or raises one of:

- RetryableError: the inference backend stayed unavailable (wait, then resubmit);
- WorkerLost: the worker process or its node died, the task was cancelled, or its result
  was lost (resubmit a bounded number of times; Ray retried it already);
- any other exception: a bug in the worker (treated like WorkerLost by the driver).

Ray is used here and nowhere else in the runtime (cluster.ray.connect only opens and
closes the connection): its errors are mapped here, the node a shard ran on is read here,
and the strict-residency check asks Ray's resources here.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cluster.ray.connect import region_resource
from jobs.run.backends import BackendConfig, WorkerBackends
from jobs.run.shardwork import ShardOutcome, ShardWork, WorkerPolicy
from jobs.run.worker import run_shard
from kernel.errors import BadInput, RetryableError

__all__ = [
    "REGION_RESOURCE_SHARE",
    "Executor",
    "InProcessExecutor",
    "RayExecutor",
    "TaskHandle",
    "WorkerLost",
]

# What a strict-residency shard asks of its region's resource: a sliver, so the resource
# only says *where* (a node advertising `region:<name>: 1` takes up to 1000 such shards);
# CPUs decide how many run at once.
REGION_RESOURCE_SHARE = 0.001


class WorkerLost(RetryableError):
    """The worker running a shard died, its node was lost, or the task was cancelled."""


@dataclass(eq=False)
class TaskHandle:
    """One submission of one shard."""

    work: ShardWork
    attempt: int
    ref: Any = field(repr=False)
    key: int = field(default_factory=itertools.count().__next__)


class Executor(Protocol):
    """Runs shards somewhere. Implementations map their own errors (see module doc)."""

    def submit(self, work: ShardWork, attempt: int) -> TaskHandle: ...

    def wait(self, handles: Sequence[TaskHandle], timeout_s: float) -> list[TaskHandle]: ...

    def outcome(self, handle: TaskHandle) -> ShardOutcome: ...

    def cancel(self, handle: TaskHandle) -> None: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Runs shards on threads of this process (`workers` at a time). Cancellation is
    best-effort: a running shard finishes, its result is discarded."""

    def __init__(
        self, backend: BackendConfig, policy: WorkerPolicy | None = None, workers: int = 1
    ) -> None:
        self._backend = backend
        self._policy = policy or WorkerPolicy()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shard")
        self._lock = threading.Lock()
        self._backends = WorkerBackends()  # this executor's own, closed with it

    def submit(self, work: ShardWork, attempt: int) -> TaskHandle:
        future = self._pool.submit(run_shard, work, self._backend, self._policy,
                                   backends=self._backends)
        return TaskHandle(work=work, attempt=attempt, ref=future)

    def wait(self, handles: Sequence[TaskHandle], timeout_s: float) -> list[TaskHandle]:
        if not handles:
            return []
        by_future: dict[Future[ShardOutcome], TaskHandle] = {h.ref: h for h in handles}
        done, _ = futures_wait(list(by_future), timeout=timeout_s, return_when=FIRST_COMPLETED)
        return [by_future[f] for f in done]

    def outcome(self, handle: TaskHandle) -> ShardOutcome:
        result: ShardOutcome = handle.ref.result(timeout=0)
        return result

    def cancel(self, handle: TaskHandle) -> None:
        handle.ref.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._backends.close()


# A Ray task has no home for what outlives it but its worker process: the backends that
# process built, reused by every shard it runs (one pool of Triton clients per process).
_PROCESS_BACKENDS = WorkerBackends()


def _ray_shard(work: ShardWork, config: BackendConfig, policy: WorkerPolicy) -> ShardOutcome:
    """run_shard as a Ray task: the process's backends, and the node it ran on."""
    outcome = run_shard(work, config, policy, backends=_PROCESS_BACKENDS)
    node_id, resources = _placement()
    return replace(outcome, node_id=node_id, node_resources=resources)


def _placement() -> tuple[str, dict[str, float]]:
    """The Ray node this runs on and its resources (diagnostic only)."""
    try:
        import ray  # Ray: slow to import

        node_id = ray.get_runtime_context().get_node_id()
        for node in ray.nodes():  # type: ignore[no-untyped-call]
            if node.get("NodeID") == node_id:
                return node_id, {str(k): float(v) for k, v in node.get("Resources", {}).items()}
        return node_id, {}
    except Exception:  # placement is diagnostic only
        return "", {}


class RayExecutor:
    """One Ray task per shard (1 CPU each). With `strict_residency`, a region's shards ask
    for its `region:<name>` resource, so Ray places them only on that region's nodes.

    Ray retries a task whose worker or node dies (`max_retries`, system failures only);
    application errors are not retried by Ray: the worker handles poison studies itself and
    the driver decides about RetryableError.
    """

    def __init__(
        self,
        backend: BackendConfig,
        policy: WorkerPolicy | None = None,
        *,
        strict_residency: bool = False,
        max_retries: int = 3,
        num_cpus: float = 1.0,
    ) -> None:
        import ray  # Ray: slow to import

        self._ray = ray
        self._backend = backend
        self._policy = policy or WorkerPolicy()
        self._strict = strict_residency
        self._max_retries = max_retries
        self._num_cpus = num_cpus
        self._remote: Any = ray.remote(_ray_shard)
        # the config and policy travel once, not with every task
        self._backend_ref = ray.put(backend)
        self._policy_ref = ray.put(policy)

    def cluster_cpus(self) -> int:
        """The CPUs of the Ray cluster this executor submits to."""
        return int(self._ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]

    def require_regions(self, regions: Sequence[str]) -> None:
        """With strict residency, every region needs a node advertising `region:<name>`;
        otherwise its shards could never be scheduled (Ray would wait forever)."""
        if not self._strict:
            return
        available = self._ray.cluster_resources()  # type: ignore[no-untyped-call]
        missing = [r for r in regions if region_resource(r) not in available]
        if missing:
            raise BadInput(
                f"residency is strict but no Ray node serves region(s) {missing}; start "
                "each region's nodes with --resources '{\"region:<name>\": 1}' (README: "
                "data residency), or set residency: none"
            )

    def placement(self, region: str) -> dict[str, float]:
        """Custom resources a shard of `region` asks for."""
        return {region_resource(region): REGION_RESOURCE_SHARE} if self._strict else {}

    def submit(self, work: ShardWork, attempt: int) -> TaskHandle:
        ref = self._remote.options(
            num_cpus=self._num_cpus,
            max_retries=self._max_retries,
            retry_exceptions=False,
            resources=self.placement(work.region),
            name=f"shard:{work.shard_id}",
        ).remote(work, self._backend_ref, self._policy_ref)
        return TaskHandle(work=work, attempt=attempt, ref=ref)

    def wait(self, handles: Sequence[TaskHandle], timeout_s: float) -> list[TaskHandle]:
        if not handles:
            return []
        by_ref = {h.ref: h for h in handles}
        ready, _ = self._ray.wait(
            list(by_ref), num_returns=1, timeout=timeout_s, fetch_local=False
        )
        # collect whatever else is already done without waiting again
        if ready and len(by_ref) > 1:
            more, _ = self._ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
            ready = list({*ready, *more})
        return [by_ref[r] for r in ready]

    def outcome(self, handle: TaskHandle) -> ShardOutcome:
        ray = self._ray
        try:
            result: ShardOutcome = ray.get(handle.ref, timeout=60)
            return result
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            if isinstance(cause, RetryableError):
                raise RetryableError(str(cause)) from None
            raise WorkerLost(
                f"shard {handle.work.shard_id} failed in the worker: {type(cause).__name__}"
            ) from None
        except ray.exceptions.RayError as exc:
            raise WorkerLost(
                f"shard {handle.work.shard_id} was lost: {type(exc).__name__}"
            ) from None

    def cancel(self, handle: TaskHandle) -> None:
        with contextlib.suppress(Exception):  # already finished or gone
            self._ray.cancel(handle.ref, force=True)

    def close(self) -> None:
        pass
