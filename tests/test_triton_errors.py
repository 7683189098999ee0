"""Triton errors map into the project's error tree, and no gRPC status is left unmapped."""

from __future__ import annotations

import grpc
import pytest
from tritonclient.utils import InferenceServerException

from cluster.triton.errors import (
    Failure,
    classify_status,
    is_overload,
    map_triton_error,
    status_code_of,
    unmapped_statuses,
)
from kernel.errors import BadInput, LungsNotCovered, PermanentError, RetryableError


def test_every_grpc_status_code_is_mapped() -> None:
    assert unmapped_statuses() == []


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_each_status_maps_to_one_project_error(code: grpc.StatusCode) -> None:
    exc = InferenceServerException(msg="boom", status=str(code))
    assert status_code_of(exc) is code
    error = map_triton_error(exc, "127.0.0.1:1")
    assert type(error) in (RetryableError, BadInput, PermanentError)
    assert code.name in str(error) and "127.0.0.1:1" in str(error)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, RetryableError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, RetryableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, RetryableError),
        (grpc.StatusCode.INVALID_ARGUMENT, BadInput),
        (grpc.StatusCode.INTERNAL, PermanentError),
    ],
)
def test_retry_only_what_can_succeed_later(code: grpc.StatusCode, expected: type) -> None:
    error = map_triton_error(InferenceServerException(msg="x", status=str(code)), "h:1")
    assert isinstance(error, expected)


def test_no_status_is_a_connection_problem_and_retryable() -> None:
    assert classify_status(None) is Failure.RETRYABLE
    assert isinstance(map_triton_error(InferenceServerException(msg="x"), "h:1"), RetryableError)


def test_queue_full_is_overload_not_an_outage() -> None:
    full = InferenceServerException(
        msg="Exceeds maximum queue size", status="StatusCode.UNAVAILABLE"
    )
    down = InferenceServerException(
        msg="failed to connect to all addresses", status="StatusCode.UNAVAILABLE"
    )
    assert is_overload(full)
    assert not is_overload(down)


def test_lungs_not_covered_keeps_its_type_over_triton() -> None:
    exc = InferenceServerException(
        msg="lungs not covered: the volume holds only air", status="StatusCode.INVALID_ARGUMENT"
    )
    error = map_triton_error(exc, "h:1")
    assert isinstance(error, LungsNotCovered) and isinstance(error, BadInput)
    assert str(error) == "lungs not covered: the volume holds only air"
