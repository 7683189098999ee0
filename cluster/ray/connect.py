"""Connecting the campaign driver to Ray, and submitting a campaign as a Ray Job.

Three ways to run:

- embedded (default): `ray.init()` starts a private local Ray on this machine with bounded
  resources, no dashboard (unless asked) and worker logs kept out of the driver's output;
- an existing cluster: `address="ray://..."`, `"auto"` or `"HOST:PORT"` connects to it;
- a Ray Job: `submit_campaign(...)` sends `lungscreen campaign run SPEC` to a remote
  cluster's job server (`http://HEAD:8265`), with the spec file shipped in the job's
  working directory. The job then runs the driver on the cluster itself.

Data residency uses Ray custom resources named `region:<name>` (see `region_resource`):
a node serving region `north` is started with `--resources '{"region:north": 1}'`, and a
strict-residency shard asks for a sliver of it, so it can only be scheduled there.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import BadInput, RetryableError

__all__ = [
    "REGION_RESOURCE_PREFIX",
    "RayOptions",
    "connect",
    "region_resource",
    "submit_campaign",
]

log = logging.getLogger("cluster")

REGION_RESOURCE_PREFIX = "region:"


def region_resource(region: str) -> str:
    """The Ray custom resource that marks a node as serving `region` (e.g. `region:north`)."""
    return f"{REGION_RESOURCE_PREFIX}{region}"


@dataclass(frozen=True)
class RayOptions:
    """How to reach Ray. `address=None` starts an embedded local Ray.

    num_cpus / object_store_mb bound the embedded instance (None: Ray's defaults for CPUs,
    256 MiB object store, which is plenty: volumes never travel through it).
    `resources` adds custom resources to the embedded node (e.g. `{"region:north": 1}`).
    """

    address: str | None = None
    num_cpus: int | None = None
    object_store_mb: int = 256
    dashboard: bool = False
    resources: Mapping[str, float] = field(default_factory=dict)
    namespace: str = "lungscreen"


def _init_kwargs(options: RayOptions) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "namespace": options.namespace,
        "log_to_driver": False,
        "configure_logging": True,
        "logging_level": logging.WARNING,
        "ignore_reinit_error": False,
    }
    if options.address is not None:
        kwargs["address"] = options.address
        return kwargs
    # "local": always a new private instance, never a cluster someone else started here
    # (a bare ray.init() would join the one recorded in /tmp/ray/ray_current_cluster)
    kwargs["address"] = "local"
    kwargs["include_dashboard"] = options.dashboard
    kwargs["object_store_memory"] = options.object_store_mb * 1024 * 1024
    if options.num_cpus is not None:
        kwargs["num_cpus"] = options.num_cpus
    if options.resources:
        kwargs["resources"] = dict(options.resources)
    return kwargs


@contextmanager
def connect(options: RayOptions) -> Iterator[None]:
    """Connect to (or start) Ray for the duration of the block; disconnect afterwards.

    If Ray is already initialised in this process (tests, a Ray Job's driver started by
    `ray job submit`, which sets RAY_ADDRESS for `ray.init()`), that connection is reused
    and left open. Raises RetryableError when the cluster cannot be reached.
    """
    import ray  # Ray: slow to import

    if ray.is_initialized():
        yield
        return
    if options.address is not None:
        _check_reachable(options.address)
    _quiet_token_auth_notice()
    try:
        ray.init(**_init_kwargs(options))  # type: ignore[arg-type]
    except ConnectionError as exc:
        raise RetryableError(
            f"cannot reach the Ray cluster at {options.address!r}: {exc}; check the address "
            "and that the head node is up"
        ) from exc
    except ValueError as exc:
        raise BadInput(f"cannot start Ray with {options}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


class _TokenAuthNotice(logging.Filter):
    """Drops Ray's notice that a new local cluster has token authentication on (Ray's
    default since 2.5x, which the embedded Ray keeps): printed on every campaign, it reads
    as a problem to the people running one. Ray's warnings about anything else pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            "Token authentication is enabled for this Ray cluster")


_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _quiet_token_auth_notice() -> None:
    logger = logging.getLogger(_RAY_AUTH_LOGGER)
    if not any(isinstance(f, _TokenAuthNotice) for f in logger.filters):
        logger.addFilter(_TokenAuthNotice())


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line, when nothing listens at a `HOST:PORT` (or
    `ray://HOST:PORT`) address; Ray itself would retry for minutes, logging each try.
    Other forms ("auto", "local") are left to Ray."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RetryableError(
            f"cannot reach the Ray cluster at {address} ({reason}); check the address (the "
            "head's GCS port, 6379 by default, or ray://HOST:10001 for Ray Client) and that "
            f"the head node is up: `ray status --address {target}`"
        ) from None


def submit_campaign(
    spec_path: Path,
    address: str,
    *,
    extra_args: tuple[str, ...] = (),
    submission_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Submit `lungscreen campaign run SPEC` as a Ray Job to the job server at `address`.

    The spec travels in the job's working directory (specs hold no PHI). Files the spec
    names (sources, opt-out list, key file) must exist on the cluster. Returns the
    submission id; follow it with `ray job logs -f ID --address ADDRESS`.
    """
    from ray.job_submission import JobSubmissionClient  # Ray: slow to import

    if not address.startswith(("http://", "https://")):
        raise BadInput(
            f"job submission address {address!r} must be the head's job server URL, "
            "e.g. http://HEAD:8265"
        )
    if not spec_path.is_file():
        raise BadInput(f"campaign spec {spec_path} does not exist")
    try:
        client = JobSubmissionClient(address)
    except (ConnectionError, RuntimeError) as exc:
        raise RetryableError(f"cannot reach the Ray job server at {address}: {exc}") from exc
    workdir = Path(tempfile.mkdtemp(prefix="lungscreen-job-"))
    try:
        shutil.copy2(spec_path, workdir / "campaign.yaml")
        entrypoint = " ".join(["lungscreen", "campaign", "run", "campaign.yaml", *extra_args])
        runtime_env: dict[str, object] = {"working_dir": os.fspath(workdir)}
        if env:
            runtime_env["env_vars"] = dict(env)
        job_id: str = client.submit_job(
            entrypoint=entrypoint, runtime_env=runtime_env, submission_id=submission_id
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log.info("submitted campaign job %s to %s", job_id, address)
    return job_id
