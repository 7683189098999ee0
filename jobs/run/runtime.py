"""What a run runs on: the inference backend and the executor, each opened for a block.

The only place an executor is built (the architecture test checks it): the CLI, the demo
and the benchmarks all get theirs here, so they run the same machinery.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from cluster.ray.connect import RayOptions, connect
from jobs.run.backends import BackendConfig, InProcessBackendConfig, TritonBackendConfig
from jobs.run.executor import Executor, InProcessExecutor, RayExecutor
from jobs.run.options import RunOptions
from jobs.run.prepared import Prepared
from jobs.run.shardwork import ShardWork, StudyWork
from jobs.spec.campaign_spec import CampaignSpec
from kernel.errors import BadInput

__all__ = ["inference_backend", "open_executor", "warm_up"]

log = logging.getLogger("jobs")


@contextlib.contextmanager
def inference_backend(spec: CampaignSpec, options: RunOptions) -> Iterator[BackendConfig]:
    """The backend config for the workers; starts the bundled local Triton for the block
    when the spec names no servers (and the backend is not in-process)."""
    version = spec.model.version
    if options.backend == "inprocess":
        yield InProcessBackendConfig(model_name=spec.model.name, model_version=version,
                                     parameters=tuple(sorted(options.model_parameters.items())))
        return
    if options.model_parameters:
        raise BadInput("model parameters apply to in-process models only (backend inprocess); "
                       "a served model takes them from its Triton config")
    if spec.triton is not None:
        yield TritonBackendConfig(urls=tuple(spec.triton.urls), model_name=spec.model.name,
                                  model_version=version, timeout_s=spec.triton.timeout_s)
        return
    if options.backend == "triton":
        raise BadInput("backend triton needs triton.urls in the spec (or omit --backend)")
    # the server's life cycle is loaded only where no server is named
    from cluster.triton.server import LocalTritonServer, TritonServerConfig  # Triton: local only

    log.info("starting the bundled Triton server for this campaign")
    with LocalTritonServer(TritonServerConfig()) as server:
        yield TritonBackendConfig(urls=(server.grpc_url,), model_name=spec.model.name,
                                  model_version=version)


@contextlib.contextmanager
def open_executor(
    spec: CampaignSpec, options: RunOptions, backend: BackendConfig
) -> Iterator[Executor]:
    """Where shards run, for the block: Ray (embedded, or the cluster at options.address;
    with strict residency every region needs its nodes), or threads of this process."""
    executor: Executor
    if options.executor != "ray":
        executor = InProcessExecutor(backend, options.policy)
        try:
            yield executor
        finally:
            executor.close()
        return
    with connect(RayOptions(address=options.address, num_cpus=options.num_cpus,
                            resources=dict(options.ray_resources))):
        ray_executor = RayExecutor(backend, options.policy,
                                   strict_residency=spec.residency == "strict")
        ray_executor.require_regions([r.name for r in spec.regions])
        try:
            yield ray_executor
        finally:
            ray_executor.close()


def warm_up(executor: Executor, prepared: Prepared, timeout_s: float = 900.0) -> None:
    """Start the executor's workers and build their backends (the model loaded) before
    anything is timed: one single-study shard per worker (per CPU of a Ray cluster), whose
    results are discarded."""
    workers = executor.cluster_cpus() if isinstance(executor, RayExecutor) else 1
    intake = prepared.intake
    pids = list(intake.records)
    if not pids:
        return
    handles = []
    for i in range(workers):
        record = intake.records[pids[i % len(pids)]]
        study = StudyWork(record, prepared.seal.seal(intake.locators[record.study_pid]))
        work = ShardWork(f"{prepared.spec.id}-warmup", f"warmup-{i}", record.region, (study,))
        handles.append(executor.submit(work, 1))
    deadline = time.monotonic() + timeout_s
    while handles and time.monotonic() < deadline:
        for handle in executor.wait(handles, timeout_s=5.0):
            executor.outcome(handle)
            handles.remove(handle)
