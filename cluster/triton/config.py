"""How a Triton client reaches its servers: the gRPC addresses and how patiently to talk
to them (deadlines, attempts, backoff, cool-down, shared memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kernel.contract import MODEL_NAME
from kernel.defaults import INFERENCE_TIMEOUT_S
from kernel.errors import BadInput

__all__ = ["SharedMemoryMode", "TritonClientConfig", "grpc_target"]

SharedMemoryMode = Literal["auto", "on", "off"]


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
    timeout_s: float = INFERENCE_TIMEOUT_S
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
