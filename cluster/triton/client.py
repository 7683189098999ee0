"""`TritonBackend`: the nodule model over Triton gRPC, as a kernel.contract.InferenceBackend.

    backend = TritonBackend(TritonClientConfig(urls=("grpc://10.0.0.5:8001", "10.0.0.6:8001")))
    rows = backend.infer(volume_int16, (1.25, 0.7, 0.7))      # float32 [N, 7]

- Message-size limits are raised to 2 GiB (a 512x512x350 int16 volume is 183 MB).
- Every call has a deadline (`timeout_s` for inference, `probe_timeout_s` for the rest);
  the inference deadline is also sent as the request's queue timeout.
- Several servers: requests go round-robin over the healthy ones. A server that fails with
  UNAVAILABLE (down, restarting) is skipped for `cooldown_s`, then probed (live + model ready)
  before it gets traffic again. Overload (queue full, deadline) keeps it in rotation.
- Retries with capped exponential backoff and jitter for retryable failures only; bad input
  (INVALID_ARGUMENT) is never retried. Errors are mapped by cluster.triton.errors.
- System shared memory for servers on this host (`shared_memory="auto"`: loopback URLs, with
  a fallback to plain gRPC when the server cannot map the segment).
- The model version is resolved once (the highest ready version, or the pinned one) and
  every request pins it, so one backend never mixes versions.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from cluster.triton.errors import Failure, classify_status, is_overload, map_triton_error
from cluster.triton.errors import status_code_of as _status_code_of
from cluster.triton.shm import ShmPool, ShmSetupError
from cluster.triton.stats import OnRequest, Outcome
from kernel.contract import INPUT_SPACING, INPUT_VOLUME, MODEL_NAME, OUTPUT_NODULES
from kernel.errors import BadInput, LungscreenError, PermanentError, RetryableError

__all__ = ["ServerHealth", "SharedMemoryMode", "TritonBackend", "TritonClientConfig", "grpc_target"]

_log = logging.getLogger("cluster")

SharedMemoryMode = Literal["auto", "on", "off"]
_T = TypeVar("_T")
_MAX_MESSAGE = 2**31 - 1
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")
_OUTCOME = {
    Failure.RETRYABLE: Outcome.RETRYABLE,
    Failure.BAD_INPUT: Outcome.BAD_INPUT,
    Failure.PERMANENT: Outcome.PERMANENT,
}


def grpc_target(url: str) -> str:
    """'grpc://host:port' or 'host:port' -> 'host:port'; BadInput for anything else."""
    text = url.strip()
    if text.startswith("grpc://"):
        text = text[len("grpc://") :]
    host, sep, port = text.rpartition(":")
    if "://" in text or not sep or not host or not port.isdigit() or "/" in text:
        raise BadInput(
            f"Triton URL {url!r} is not a gRPC address; expected grpc://HOST:PORT "
            "(Triton's gRPC port, 8001 by default)"
        )
    return text


@dataclass(frozen=True)
class TritonClientConfig:
    """Where the servers are and how patiently to talk to them."""

    urls: tuple[str, ...]
    model_name: str = MODEL_NAME
    model_version: str = ""
    timeout_s: float = 600.0
    probe_timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 15.0
    cooldown_s: float = 15.0
    shared_memory: SharedMemoryMode = "auto"

    def __post_init__(self) -> None:
        if not self.urls:
            raise BadInput(
                "no Triton URL given; set triton.urls, or omit it to start a local server"
            )
        object.__setattr__(self, "urls", tuple(grpc_target(u) for u in self.urls))
        if self.model_version and not self.model_version.isdigit():
            raise BadInput(
                f"model_version {self.model_version!r} is not a Triton version; use digits, "
                "or empty for the latest"
            )
        if self.max_attempts < 1:
            raise BadInput(f"max_attempts {self.max_attempts} must be at least 1")
        for name in ("timeout_s", "probe_timeout_s", "backoff_initial_s", "backoff_max_s"):
            if not getattr(self, name) > 0:
                raise BadInput(f"{name} {getattr(self, name)} must be positive")
        if self.backoff_max_s < self.backoff_initial_s:
            raise BadInput(
                f"backoff_max_s ({self.backoff_max_s}) must be >= backoff_initial_s "
                f"({self.backoff_initial_s})"
            )
        if self.shared_memory not in ("auto", "on", "off"):
            raise BadInput(f"shared_memory {self.shared_memory!r}: use auto, on or off")


@dataclass(frozen=True)
class ServerHealth:
    """One server's state as the client sees it."""

    url: str
    live: bool
    model_ready: bool
    cooling_down: bool


class _Server:
    def __init__(self, url: str, use_shm: bool) -> None:
        self.url = url
        self.client = self._connect()
        self.use_shm = use_shm
        self.shm: ShmPool | None = None
        self.down_until = 0.0
        self.suspect = False
        self.lock = threading.Lock()
        self.probing = threading.Lock()

    def _connect(self) -> grpcclient.InferenceServerClient:
        return grpcclient.InferenceServerClient(
            self.url,
            channel_args=[
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 0),
                # A recovered server must be reachable at once: no subchannel (and its
                # reconnect backoff) shared with the channel that saw it die, short backoff.
                ("grpc.use_local_subchannel_pool", 1),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )

    def reconnect(self) -> None:
        old, self.client = self.client, self._connect()
        old.close()

    def pool(self, probe_timeout_s: float) -> ShmPool:
        with self.lock:
            if self.shm is None:
                self.shm = ShmPool(
                    register=lambda name, key, size: self.client.register_system_shared_memory(
                        name, key, size, client_timeout=probe_timeout_s
                    ),
                    unregister=lambda name: self.client.unregister_system_shared_memory(
                        name, client_timeout=probe_timeout_s
                    ),
                    registered=lambda: self.client.get_system_shared_memory_status(
                        as_json=True, client_timeout=probe_timeout_s
                    ).get("regions", {}),
                )
            return self.shm

    def drop_pool(self, grace_s: float = 10.0) -> None:
        with self.lock:
            pool, self.shm = self.shm, None
        if pool is not None:
            pool.close(grace_s)

    def mark_down(self, cooldown_s: float) -> None:
        self.down_until = time.monotonic() + cooldown_s
        self.suspect = True
        self.drop_pool(grace_s=0)  # it is gone; a restarted one has forgotten registrations


class TritonBackend:
    """kernel.contract.InferenceBackend over one or more Triton servers (gRPC)."""

    def __init__(self, config: TritonClientConfig, on_request: OnRequest | None = None) -> None:
        self.config = config
        self._on_request = on_request
        self._servers = [_Server(url, self._shm_wanted(url)) for url in config.urls]
        self._next = 0
        self._lock = threading.Lock()
        self._version = config.model_version
        self._resolved = False
        self._version_lock = threading.Lock()

    def _shm_wanted(self, url: str) -> bool:
        mode = self.config.shared_memory
        return mode == "on" or (mode == "auto" and url.startswith(_LOOPBACK))

    # -- InferenceBackend -------------------------------------------------------------

    @property
    def model_version(self) -> str:
        """The served version every request is pinned to (resolved once, from metadata)."""
        with self._version_lock:
            if not self._resolved:
                self._version = self._call_any(
                    "resolve the model version", self._resolve_version, report=False
                )
                self._resolved = True
        return self._version

    def infer(
        self, volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
    ) -> npt.NDArray[np.float32]:
        """NODULES [N, 7] for one volume; BadInput, RetryableError or PermanentError."""
        vol, spc = _check_input(volume, spacing)
        version = self.model_version
        return self._call_any(
            "run inference", lambda server: self._infer_on(server, vol, spc, version), vol.shape
        )

    # -- health -----------------------------------------------------------------------

    def health(self) -> tuple[ServerHealth, ...]:
        """Probe every server now (live, and the model ready)."""
        now = time.monotonic()
        return tuple(
            ServerHealth(
                url=s.url,
                live=self._probe(s, model=False),
                model_ready=self._probe(s, model=True),
                cooling_down=s.down_until > now,
            )
            for s in self._servers
        )

    def close(self) -> None:
        """Unregister shared memory and close the channels."""
        for server in self._servers:
            server.drop_pool()
            server.client.close()

    def __enter__(self) -> TritonBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _probe(self, server: _Server, model: bool) -> bool:
        timeout = self.config.probe_timeout_s
        try:
            if model:
                return bool(
                    server.client.is_model_ready(
                        self.config.model_name, self._version, client_timeout=timeout
                    )
                )
            return bool(server.client.is_server_live(client_timeout=timeout))
        except InferenceServerException:
            return False

    def _pick(self, exclude: _Server | None, ignore_cooldown: bool = False) -> _Server | None:
        """The next healthy server, round-robin; a suspect (failed before) is probed first.

        Servers in their cool-down are skipped unless `ignore_cooldown` (when every server
        is cooling down, retrying them beats giving up).
        """
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self._servers)
        now = time.monotonic()
        order = self._servers[start:] + self._servers[:start]
        if ignore_cooldown:
            order.sort(key=lambda s: s.down_until)
        for server in order:
            if server is exclude or (server.down_until > now and not ignore_cooldown):
                continue
            if server.suspect:
                if not server.probing.acquire(blocking=False):
                    continue  # another thread is probing it
                try:
                    server.reconnect()  # a fresh channel: no reconnect backoff from the outage
                    if not self._probe(server, model=True):
                        server.mark_down(self.config.cooldown_s)
                        continue
                    server.suspect = False
                finally:
                    server.probing.release()
                _log.info("triton server %s is healthy again", server.url)
            return server
        return None

    def _call_any(
        self,
        what: str,
        call: Callable[[_Server], _T],
        shape: tuple[int, ...] | None = None,
        report: bool = True,
    ) -> _T:
        """`call` on a healthy server, failing over and backing off; reports each attempt
        to the on_request hook when `report`."""
        cfg = self.config
        delay = cfg.backoff_initial_s
        last: LungscreenError | None = None
        failed: _Server | None = None
        for attempt in range(1, cfg.max_attempts + 1):
            server = (
                self._pick(exclude=failed)
                or self._pick(exclude=None)
                or self._pick(exclude=None, ignore_cooldown=True)
            )
            if server is not None:
                started = time.monotonic()
                try:
                    result = call(server)
                except LungscreenError as exc:  # checks on our side: bad input, bad output
                    if report:
                        self._report(server.url, _outcome_of(exc), time.monotonic() - started)
                    raise
                except InferenceServerException as exc:
                    error, outcome = self._failure(server, exc)
                    if report:
                        self._report(server.url, outcome, time.monotonic() - started)
                    if not isinstance(error, RetryableError):
                        raise error from None
                    last, failed = error, server
                    _log.info(
                        "triton %s failed on %s (attempt %d): %s", what, server.url, attempt, error
                    )
                    if server.down_until > time.monotonic() and self._another_healthy(server):
                        continue  # it is down: fail over at once (overload: back off first)
                else:
                    if report:
                        self._report(server.url, Outcome.OK, time.monotonic() - started)
                    return result
            else:
                last = RetryableError(
                    f"no Triton server is healthy ({', '.join(cfg.urls)}); check that they run"
                )
            if attempt < cfg.max_attempts:
                time.sleep(delay / 2 + random.uniform(0, delay / 2))
                delay = min(delay * 2, cfg.backoff_max_s)
        size = "" if shape is None else f" (volume shape {list(shape)})"
        raise RetryableError(
            f"could not {what}{size} after {cfg.max_attempts} attempts over "
            f"{len(cfg.urls)} server(s); last error: {last}"
        )

    def _another_healthy(self, failed: _Server) -> bool:
        now = time.monotonic()
        return any(s is not failed and s.down_until <= now for s in self._servers)

    def _failure(
        self, server: _Server, exc: InferenceServerException
    ) -> tuple[LungscreenError, Outcome]:
        text = (exc.message() or "").lower()
        if server.shm is not None and "shared memory" in text:
            # The server lost our registration (restarted): re-register next time.
            server.drop_pool(grace_s=0)
            lost = RetryableError(f"Triton at {server.url} lost a shared-memory region")
            return lost, Outcome.RETRYABLE
        failure = classify_status(_status_code_of(exc))
        error = map_triton_error(exc, server.url)
        if failure is Failure.RETRYABLE and not is_overload(exc):
            server.mark_down(self.config.cooldown_s)
        return error, _OUTCOME[failure]

    def _report(self, url: str, outcome: Outcome, seconds: float) -> None:
        if self._on_request is not None:
            try:
                self._on_request(url, outcome, seconds)
            except Exception:  # a broken metrics hook must not fail inference
                _log.exception("on_request hook failed")

    def _resolve_version(self, server: _Server) -> str:
        name, timeout = self.config.model_name, self.config.probe_timeout_s
        if self.config.model_version:
            if not server.client.is_model_ready(
                name, self.config.model_version, client_timeout=timeout
            ):
                raise InferenceServerException(
                    f"model {name} version {self.config.model_version} is not ready",
                    status="StatusCode.UNAVAILABLE",
                )
            return self.config.model_version
        meta = server.client.get_model_metadata(name, client_timeout=timeout)
        versions = [v for v in meta.versions if v.isdigit()]
        if not versions:
            raise InferenceServerException(
                f"model {name} reports no version", status="StatusCode.UNAVAILABLE"
            )
        return str(max(versions, key=int))

    def _infer_on(
        self,
        server: _Server,
        volume: npt.NDArray[np.int16],
        spacing: npt.NDArray[np.float32],
        version: str,
    ) -> npt.NDArray[np.float32]:
        vol_in = grpcclient.InferInput(INPUT_VOLUME, list(volume.shape), "INT16")
        spc_in = grpcclient.InferInput(INPUT_SPACING, [3], "FP32")
        spc_in.set_data_from_numpy(spacing)
        outputs = [grpcclient.InferRequestedOutput(OUTPUT_NODULES)]
        kwargs: dict[str, Any] = {
            "model_name": self.config.model_name,
            "model_version": version,
            "outputs": outputs,
            "client_timeout": self.config.timeout_s,
            "timeout": int(self.config.timeout_s * 1e6),
        }
        if server.use_shm:
            try:
                with server.pool(self.config.probe_timeout_s).lease(volume.nbytes) as region:
                    vol_in.set_shared_memory(region.name, region.write(volume))
                    result = server.client.infer(inputs=[vol_in, spc_in], **kwargs)
                return _check_output(result.as_numpy(OUTPUT_NODULES), volume.shape)
            except ShmSetupError as exc:
                cause = exc.__cause__
                if (
                    isinstance(cause, InferenceServerException)
                    and classify_status(_status_code_of(cause)) is Failure.RETRYABLE
                ):
                    raise cause from None  # the server is down or busy, not unable to share
                if self.config.shared_memory == "on":
                    raise PermanentError(
                        f"shared memory with Triton at {server.url} failed ({exc}: {cause}); "
                        "run the client on the server's host, or set shared_memory to auto/off"
                    ) from None
                _log.warning(
                    "shared memory unusable with %s (%s); using plain gRPC", server.url, cause
                )
                server.use_shm = False
                server.drop_pool(grace_s=0)
                vol_in = grpcclient.InferInput(INPUT_VOLUME, list(volume.shape), "INT16")
        if volume.nbytes >= _MAX_MESSAGE:
            raise BadInput(
                f"volume of {volume.nbytes} bytes exceeds the 2 GiB gRPC limit; crop it or "
                "run the client on the server's host (shared memory)"
            )
        vol_in.set_data_from_numpy(volume)
        result = server.client.infer(inputs=[vol_in, spc_in], **kwargs)
        return _check_output(result.as_numpy(OUTPUT_NODULES), volume.shape)


def _outcome_of(error: LungscreenError) -> Outcome:
    if isinstance(error, BadInput):
        return Outcome.BAD_INPUT
    if isinstance(error, RetryableError):
        return Outcome.RETRYABLE
    return Outcome.PERMANENT


def _check_input(
    volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float32]]:
    """Contract checks done before sending anything (the model checks the rest)."""
    arr = np.asarray(volume)
    if arr.dtype != np.int16:
        raise BadInput(f"VOLUME dtype is {arr.dtype}; the model takes int16 Hounsfield units")
    if arr.ndim != 3 or 0 in arr.shape:
        raise BadInput(f"VOLUME shape is {list(arr.shape)}; expected a non-empty [D, H, W] volume")
    spc = np.asarray(spacing, dtype=np.float64)
    if spc.shape != (3,) or not all(math.isfinite(v) and v > 0 for v in spc):
        raise BadInput(
            f"SPACING is {list(np.asarray(spacing).reshape(-1))}; expected three finite "
            "positive (z, y, x) millimetres"
        )
    return np.ascontiguousarray(arr), spc.astype(np.float32)


def _check_output(rows: Any, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """NODULES validated: [N, 7] finite float32, known types, probabilities in [0, 1]."""
    if rows is None:
        raise PermanentError("Triton returned no NODULES output; the model breaks contract v1")
    arr = np.asarray(rows)
    if arr.dtype != np.float32 or arr.ndim != 2 or arr.shape[1] != 7:
        raise PermanentError(
            f"NODULES is {arr.dtype} {list(arr.shape)}; contract v1 expects float32 [N, 7]"
        )
    if arr.size and (
        not np.isfinite(arr).all()
        or not np.isin(arr[:, 5], (0.0, 1.0, 2.0)).all()
        or (arr[:, 6] < 0).any()
        or (arr[:, 6] > 1).any()
        or (arr[:, :3] < -1).any()
        or (arr[:, :3] > np.asarray(shape, dtype=np.float32)).any()
    ):
        raise PermanentError(
            "NODULES holds NaN, an unknown type, a probability outside [0, 1] or a centre "
            "outside the volume; invalid model output, quarantine the study"
        )
    return arr
