"""Triton: the local server's life cycle, the client backend, its errors and shared memory."""

from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import LocalTritonServer, TritonServerConfig

__all__ = [
    "LocalTritonServer",
    "TritonBackend",
    "TritonClientConfig",
    "TritonServerConfig",
]
