"""Real Triton Inference Server fixtures (the wheel's tritonserver on 127.0.0.1, free ports).

- `triton_server`: session-scoped; serves the real repository (models/repository, the
  reference `lung_nodule_detector`) plus the test-only models in tests/triton_models
  (`test_slow_detector`), so one server start covers most tests.
- `start_test_triton()`: a further server with only the test-only models (fast to start),
  for tests that kill or overload a server.

Skips (with the reason) where the bundled binary cannot run on this platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.triton_paths import locate_triton
from cluster.triton_server import DEFAULT_REPOSITORY, LocalTritonServer, TritonServerConfig
from jobs.errors import PermanentError
from models.contract import MODEL_NAME

__all__ = ["SLOW_MODEL", "TEST_MODELS", "start_test_triton", "triton_server"]

TEST_MODELS = Path(__file__).resolve().parent.parent / "triton_models"
SLOW_MODEL = "test_slow_detector"


def _require_triton() -> None:
    try:
        locate_triton()
    except PermanentError as exc:
        pytest.skip(str(exc))


def start_test_triton() -> LocalTritonServer:
    """A started server with only tests/triton_models (the caller stops it)."""
    _require_triton()
    config = TritonServerConfig(model_repositories=(TEST_MODELS,), models=(SLOW_MODEL,))
    return LocalTritonServer(config).start()


@pytest.fixture(scope="session")
def triton_server() -> Iterator[LocalTritonServer]:
    """The real repository (and the test-only models) on a session-wide local Triton."""
    _require_triton()
    config = TritonServerConfig(
        model_repositories=(DEFAULT_REPOSITORY, TEST_MODELS), models=(MODEL_NAME, SLOW_MODEL)
    )
    with LocalTritonServer(config) as server:
        yield server
