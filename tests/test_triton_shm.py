"""System shared memory with a real Triton: regions registered, reused, grown, cleaned up."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import LocalTritonServer
from cluster.triton.shm import SEGMENT_PREFIX, sweep_stale_segments
from kernel.errors import RetryableError
from tests.servers.triton import SLOW_MODEL


def _server_regions(
    server: LocalTritonServer, exclude: frozenset[str] | set[str] = frozenset()
) -> dict[str, dict[str, str]]:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        status = client.get_system_shared_memory_status(as_json=True, client_timeout=5)
    finally:
        client.close()
    regions: dict[str, dict[str, str]] = status.get("regions", {})
    return {
        name: r
        for name, r in regions.items()
        if name.startswith(f"{SEGMENT_PREFIX}{os.getpid()}-") and name not in exclude
    }


def _my_segments(exclude: set[str]) -> list[Path]:
    found = Path("/dev/shm").glob(f"{SEGMENT_PREFIX}{os.getpid()}-*")
    return [p for p in found if p.name not in exclude]


@pytest.mark.integration
def test_regions_are_sized_reused_grown_and_removed(slow_triton_server: LocalTritonServer) -> None:
    backend = TritonBackend(
        TritonClientConfig(
            urls=(slow_triton_server.grpc_url,), model_name=SLOW_MODEL, shared_memory="on"
        )
    )
    # other tests' regions and segments (an in-process campaign's backend in this process
    # keeps its own for the session's other Triton server)
    others = set(_server_regions(slow_triton_server)) | {p.name for p in _my_segments(set())}
    small = np.zeros((20, 64, 64), dtype=np.int16)  # 160 KiB: one 16 MiB region
    large = np.zeros((40, 512, 512), dtype=np.int16)  # 20 MiB: grown to 32 MiB
    backend.infer(small, (1.0, 1.0, 1.0))
    first = _server_regions(slow_triton_server, others)
    assert len(first) == 1 and int(next(iter(first.values()))["byte_size"]) == 16 << 20
    backend.infer(small, (1.0, 1.0, 1.0))
    assert _server_regions(slow_triton_server, others) == first, "a free region is reused"
    backend.infer(large, (1.0, 1.0, 1.0))
    grown = _server_regions(slow_triton_server, others)
    assert len(grown) == 1 and int(next(iter(grown.values()))["byte_size"]) == 32 << 20
    assert len(_my_segments(others)) == 1
    backend.close()
    assert _server_regions(slow_triton_server, others) == {}
    assert _my_segments(others) == []


def test_segments_of_dead_processes_are_swept() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = Path(f"/dev/shm/{SEGMENT_PREFIX}{int(dead.stdout)}-test")
    mine = Path(f"/dev/shm/{SEGMENT_PREFIX}{os.getpid()}-test")
    for path in (stale, mine):
        path.write_bytes(b"\0" * 4096)
    try:
        assert sweep_stale_segments() >= 1
        assert not stale.exists()
        assert mine.exists()
    finally:
        stale.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)


@pytest.mark.integration
def test_region_of_a_timed_out_request_is_released(slow_triton_server: LocalTritonServer) -> None:
    # The server still reads the region of a request the client gave up on, and refuses to
    # unregister it until that request ends: close() waits for it instead of leaking it.
    others = set(_server_regions(slow_triton_server)) | {p.name for p in _my_segments(set())}
    backend = TritonBackend(
        TritonClientConfig(
            urls=(slow_triton_server.grpc_url,),
            model_name=SLOW_MODEL,
            shared_memory="on",
            timeout_s=0.3,
            max_attempts=1,
        )
    )
    with pytest.raises(RetryableError, match="DEADLINE_EXCEEDED"):
        backend.infer(np.zeros((4, 8, 8), dtype=np.int16), (1.0, 1.0, 1.0))
    assert len(_server_regions(slow_triton_server, others)) == 1
    backend.close()
    assert _server_regions(slow_triton_server, others) == {}
    assert _my_segments(others) == []


@pytest.mark.integration
def test_regions_of_dead_processes_are_unregistered(slow_triton_server: LocalTritonServer) -> None:
    """A Ray worker killed mid-campaign leaves its region registered on the server; the
    next client pool for that server unregisters it (and unlinks the segment)."""
    import tritonclient.utils.shared_memory as shm_utils

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    name = f"{SEGMENT_PREFIX}{int(dead.stdout)}-stale"
    handle = shm_utils.create_shared_memory_region(name, f"/{name}", 4096)
    client = grpcclient.InferenceServerClient(slow_triton_server.grpc_url)
    try:
        client.register_system_shared_memory(name, f"/{name}", 4096)
        regions = client.get_system_shared_memory_status(as_json=True).get("regions", {})
        assert name in regions
        backend = TritonBackend(TritonClientConfig(
            urls=(slow_triton_server.grpc_url,), model_name=SLOW_MODEL, shared_memory="on"))
        backend.infer(np.zeros((4, 8, 8), dtype=np.int16), (1.0, 1.0, 1.0))
        backend.close()
        regions = client.get_system_shared_memory_status(as_json=True).get("regions", {})
        assert name not in regions
        assert not Path(f"/dev/shm/{name}").exists()
    finally:
        if name in client.get_system_shared_memory_status(as_json=True).get("regions", {}):
            client.unregister_system_shared_memory(name)
        client.close()
        with contextlib.suppress(FileNotFoundError):  # the sweep unlinked it already
            shm_utils.destroy_shared_memory_region(handle)
