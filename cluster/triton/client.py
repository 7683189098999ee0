"""`TritonBackend`: the nodule model over Triton gRPC, as a kernel.contract.InferenceBackend.

Its parts: the configuration (cluster.triton.config), the servers and their health
(cluster.triton.pool), retries and fail-over (cluster.triton.retry), and one request's
encoding, shared memory included (cluster.triton.encoding).

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

import threading

import numpy as np
import numpy.typing as npt

from cluster.triton.config import SharedMemoryMode, TritonClientConfig, grpc_target
from cluster.triton.encoding import check_input, infer_on, resolve_version
from cluster.triton.pool import ServerHealth, ServerPool
from cluster.triton.retry import call_any
from cluster.triton.stats import OnRequest

__all__ = ["ServerHealth", "SharedMemoryMode", "TritonBackend", "TritonClientConfig", "grpc_target"]


class TritonBackend:
    """kernel.contract.InferenceBackend over one or more Triton servers (gRPC)."""

    def __init__(self, config: TritonClientConfig, on_request: OnRequest | None = None) -> None:
        self.config = config
        self._on_request = on_request
        self._pool = ServerPool(config)
        self._resolved = False
        self._version_lock = threading.Lock()

    @property
    def model_version(self) -> str:
        """The served version every request is pinned to (resolved once, from metadata)."""
        with self._version_lock:
            if not self._resolved:
                self._pool.model_version = call_any(
                    self._pool, self.config, None, "resolve the model version",
                    lambda server: resolve_version(server, self.config),
                )
                self._resolved = True
        return self._pool.model_version

    def infer(
        self, volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
    ) -> npt.NDArray[np.float32]:
        """NODULES [N, 7] for one volume; BadInput, RetryableError or PermanentError."""
        vol, spc = check_input(volume, spacing)
        version = self.model_version
        return call_any(
            self._pool, self.config, self._on_request, "run inference",
            lambda server: infer_on(server, self.config, vol, spc, version), vol.shape,
        )

    def health(self) -> tuple[ServerHealth, ...]:
        """Probe every server now (live, and the model ready)."""
        return self._pool.health()

    def close(self) -> None:
        """Unregister shared memory and close the channels."""
        self._pool.close()

    def __enter__(self) -> TritonBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
