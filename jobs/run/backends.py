"""The inference backends a worker can use, chosen once (from the spec, by
`jobs.run.runtime.inference_backend`) and passed down as a typed config.

A config is a plain frozen record (it travels to Ray workers); `build` makes the backend
where the work runs. `WorkerBackends` holds what one worker has built, reused across
shards (a Triton client pool or a loaded model is expensive to build; it holds no study),
and the Triton client's per-request log until a shard outcome carries it to the driver.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from kernel.contract import MODEL_NAME, InferenceBackend
from kernel.defaults import INFERENCE_TIMEOUT_S
from kernel.errors import BadInput

__all__ = [
    "BackendConfig",
    "InProcessBackendConfig",
    "OnRequest",
    "TritonBackendConfig",
    "WorkerBackends",
]

OnRequest = Callable[[str, object, float], None]


@dataclass(frozen=True)
class TritonBackendConfig:
    """Triton servers to call (gRPC URLs), the model they serve, and the per-request
    deadline."""

    urls: tuple[str, ...]
    model_name: str = MODEL_NAME
    model_version: str = "1"
    timeout_s: float = INFERENCE_TIMEOUT_S

    def build(self, on_request: OnRequest) -> InferenceBackend:
        # the client is imported where a worker builds it: the driver never loads it
        from cluster.triton.client import TritonBackend, TritonClientConfig  # grpc: Triton only

        if not self.urls:
            raise BadInput("a Triton backend needs at least one URL (triton: {urls: [...]})")
        return TritonBackend(
            TritonClientConfig(urls=self.urls, model_name=self.model_name,
                               model_version=self.model_version, timeout_s=self.timeout_s),
            on_request=on_request,
        )


@dataclass(frozen=True)
class InProcessBackendConfig:
    """The model inside each worker (no server): the reference detector, or another
    in-process model by name (models.detection.inprocess) with its `parameters`."""

    model_name: str = MODEL_NAME
    model_version: str = "1"
    parameters: tuple[tuple[str, str], ...] = ()

    def build(self, on_request: OnRequest) -> InferenceBackend:
        # torch is loaded only in a worker that screens with the reference model
        from models.detection.inprocess import inprocess_backend  # torch: in-process only

        return inprocess_backend(self.model_name, dict(self.parameters))


BackendConfig = TritonBackendConfig | InProcessBackendConfig


class WorkerBackends:
    """The backends one worker has built, by config, and its backend request log."""

    def __init__(self) -> None:
        self._built: dict[BackendConfig, InferenceBackend] = {}
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str, float]] = []
        self._requests_lock = threading.Lock()

    def get(self, config: BackendConfig) -> InferenceBackend:
        with self._lock:
            backend = self._built.get(config)
            if backend is None:
                backend = config.build(self._record_request)
                self._built[config] = backend
            return backend

    def _record_request(self, server: str, outcome: object, seconds: float) -> None:
        with self._requests_lock:
            self._requests.append(
                (server, str(getattr(outcome, "value", outcome)), float(seconds)))

    def drain_requests(self) -> tuple[tuple[str, str, float], ...]:
        with self._requests_lock:
            drained = tuple(self._requests)
            self._requests.clear()
        return drained

    def close(self) -> None:
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for backend in built:
            close = getattr(backend, "close", None)
            if callable(close):
                close()
