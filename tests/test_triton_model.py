"""The reference model served by a real Triton: readiness, same nodules as in-process,
bad inputs answered per request while the server keeps serving, shared memory == gRPC."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import LocalTritonServer
from cluster.triton.shm import SEGMENT_PREFIX
from cluster.triton.stats import RequestCounters
from kernel.contract import MODEL_NAME
from kernel.errors import BadInput, LungsNotCovered
from models.detection.inprocess import InProcessBackend
from synth.phantom import Phantom, make_phantom
from tests.model_volumes import BAD_INPUTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEEDS = (1, 2)


@pytest.fixture(scope="module")
def phantoms() -> list[Phantom]:
    return [make_phantom(seed, "small") for seed in SEEDS]


@pytest.fixture(scope="module")
def expected(phantoms: list[Phantom]) -> list[np.ndarray]:
    """The in-process backend's NODULES for each phantom (the reference)."""
    inprocess = InProcessBackend(device="cpu")
    return [inprocess.infer(ph.hu, ph.spacing) for ph in phantoms]


@pytest.fixture()
def raw_client(triton_server: LocalTritonServer) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    yield client
    client.close()


def _raw_infer(client: grpcclient.InferenceServerClient, volume: np.ndarray, spacing: np.ndarray):
    vol = grpcclient.InferInput("VOLUME", list(volume.shape), _triton_dtype(volume))
    vol.set_data_from_numpy(volume)
    spc = grpcclient.InferInput("SPACING", list(spacing.shape), "FP32")
    spc.set_data_from_numpy(spacing)
    return client.infer(MODEL_NAME, [vol, spc], client_timeout=600)


def _triton_dtype(array: np.ndarray) -> str:
    return {np.dtype(np.int16): "INT16", np.dtype(np.float32): "FP32"}[array.dtype]


def test_model_is_ready_on_loopback_with_its_version(triton_server: LocalTritonServer) -> None:
    assert triton_server.grpc_url.startswith("127.0.0.1:")
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL_NAME}/ready"):
        with urllib.request.urlopen(triton_server.http_url + path, timeout=5) as response:
            assert response.status == 200
    with urllib.request.urlopen(triton_server.metrics_url, timeout=5) as response:
        assert b"nv_inference_request_success" in response.read()
    backend = TritonBackend(TritonClientConfig(urls=(triton_server.grpc_url,)))
    assert backend.model_version == "1"
    backend.close()


def test_triton_finds_the_same_nodules_as_in_process(
    triton_server: LocalTritonServer, phantoms: list[Phantom], expected: list[np.ndarray]
) -> None:
    # Plain gRPC on one phantom, system shared memory on the other (and the bad-input test
    # compares a third path, the raw client); each full detection costs CPU time.
    url = triton_server.grpc_url
    mine = f"{SEGMENT_PREFIX}{os.getpid()}-*"
    before = {p.name for p in Path("/dev/shm").glob(mine)}
    # an earlier test in this process may have left a region registered (one retired
    # after a failed request on a server that then went away): judge only this test's
    registered_before = set(_registered_regions(triton_server))
    grpc = TritonBackend(TritonClientConfig(urls=(url,), shared_memory="off"))
    shm = TritonBackend(TritonClientConfig(urls=(url,), shared_memory="on"))
    for backend, ph, rows in ((grpc, phantoms[1], expected[1]), (shm, phantoms[0], expected[0])):
        got = backend.infer(ph.hu, ph.spacing)
        assert got.shape == rows.shape
        np.testing.assert_allclose(got, rows, rtol=1e-4, atol=1e-3)
    assert sum(len(rows) for rows in expected) > 0, "no findings: the comparison proves little"
    grpc.close()
    shm.close()
    # only this process's regions: other tests' Ray workers share the session server
    assert not [n for n in set(_registered_regions(triton_server)) - registered_before
                if n.startswith(f"{SEGMENT_PREFIX}{os.getpid()}-")]
    assert {p.name for p in Path("/dev/shm").glob(mine)} <= before


def _registered_regions(server: LocalTritonServer) -> list[str]:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        status = client.get_system_shared_memory_status(as_json=True, client_timeout=5)
    finally:
        client.close()
    return list(status.get("regions", {}))


def test_bad_inputs_get_clear_errors_and_the_server_keeps_serving(
    raw_client: grpcclient.InferenceServerClient,
    phantoms: list[Phantom],
    expected: list[np.ndarray],
) -> None:
    for case, (volume, spacing, message) in BAD_INPUTS.items():
        with pytest.raises(InferenceServerException) as info:
            _raw_infer(raw_client, volume, np.asarray(spacing, dtype=np.float32))
        assert info.value.status() == "StatusCode.INVALID_ARGUMENT", case
        assert message.lower() in info.value.message().lower(), (case, info.value.message())
        assert raw_client.is_server_live() and raw_client.is_model_ready(MODEL_NAME), case
    ph = phantoms[0]
    result = _raw_infer(raw_client, ph.hu, np.asarray(ph.spacing, dtype=np.float32))
    np.testing.assert_allclose(result.as_numpy("NODULES"), expected[0], rtol=1e-4, atol=1e-3)


def test_backend_maps_bad_input_without_retrying(triton_server: LocalTritonServer) -> None:
    counters = RequestCounters()
    backend = TritonBackend(TritonClientConfig(urls=(triton_server.grpc_url,)), on_request=counters)
    with pytest.raises(BadInput, match="slices"):
        backend.infer(np.zeros((3, 64, 64), np.int16), (1.0, 1.0, 1.0))
    with pytest.raises(LungsNotCovered):
        backend.infer(np.full((20, 64, 64), -1000, np.int16), (1.0, 1.0, 1.0))
    backend.close()
    stats = counters.snapshot()[triton_server.grpc_url]
    assert (stats.bad_input, stats.retryable, stats.requests) == (2, 0, 2)
