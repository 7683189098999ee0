"""Real Triton Inference Server fixtures (the wheel's tritonserver on 127.0.0.1, free ports).

- `triton_server`: session-scoped; serves the real repository (models/repository, the
  reference `lung_nodule_detector`).
- `slow_triton_server`: session-scoped; only the test-only models of tests/triton_models
  (`test_slow_detector`: contract tensors, sleeps, finds nothing; `threshold_detector`: the
  fast contract-v1 model, models.detection.threshold): quick to start, for the client's
  failover, overload and life-cycle tests.
- `contract_triton_server`: the same server, named for what campaign tests use it for:
  `threshold_detector` screens their cohorts in well under a second a volume.
- `start_test_triton()`: a further server with `test_slow_detector` only, that the caller
  owns (to kill it, or restart it on the same port).

Fails (with the reason and what to do) where the bundled binary cannot run on this
platform or the reference model's weights are missing: `.ci/setup` provides both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.triton.paths import locate_triton
from cluster.triton.server import DEFAULT_REPOSITORY, LocalTritonServer, TritonServerConfig
from kernel.contract import MODEL_NAME
from kernel.errors import PermanentError
from models.detection.threshold import THRESHOLD_MODEL

__all__ = [
    "SLOW_MODEL",
    "TEST_MODELS",
    "THRESHOLD_MODEL",
    "THRESHOLD_SLOW_MODEL",
    "contract_triton_server",
    "reference_weights",
    "slow_triton_server",
    "start_test_triton",
    "triton_server",
]

TEST_MODELS = Path(__file__).resolve().parent.parent / "triton_models"
SLOW_MODEL = "test_slow_detector"
THRESHOLD_SLOW_MODEL = "threshold_detector_slow"  # threshold_detector sleeping 1.5 s a volume


def _require_triton() -> None:
    try:
        locate_triton()
    except PermanentError as exc:
        pytest.fail(str(exc))


def start_test_triton(grpc_port: int = 0, models: tuple[str, ...] = (SLOW_MODEL,)
                      ) -> LocalTritonServer:
    """A started server with `models` of tests/triton_models (the caller stops it)."""
    _require_triton()
    config = TritonServerConfig(
        model_repositories=(TEST_MODELS,), models=models, grpc_port=grpc_port
    )
    return LocalTritonServer(config).start()


@pytest.fixture(scope="session")
def triton_server() -> Iterator[LocalTritonServer]:
    """The real repository (models/repository) on a session-wide local Triton."""
    _require_triton()
    from models.detection.detector import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.is_file():
        pytest.fail(f"the reference model's weights are missing: {DEFAULT_WEIGHTS}")
    config = TritonServerConfig(model_repositories=(DEFAULT_REPOSITORY,), models=(MODEL_NAME,))
    with LocalTritonServer(config) as server:
        yield server


@pytest.fixture(scope="session")
def slow_triton_server() -> Iterator[LocalTritonServer]:
    """The test-only models on a session-wide local Triton."""
    server = start_test_triton(models=(SLOW_MODEL, THRESHOLD_MODEL, THRESHOLD_SLOW_MODEL))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def contract_triton_server(slow_triton_server: LocalTritonServer) -> LocalTritonServer:
    """The session's test-model server, serving `threshold_detector` and
    `threshold_detector_slow` (gRPC at `.grpc_url`)."""
    return slow_triton_server


@pytest.fixture(scope="session")
def reference_weights() -> Path:
    """The committed reference weights; a test that screens with the model fails without."""
    from models.detection.detector import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.is_file():
        pytest.fail(f"the reference model's weights are missing: {DEFAULT_WEIGHTS}")
    return Path(DEFAULT_WEIGHTS)
