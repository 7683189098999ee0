"""Triton (tritonclient gRPC) errors mapped into the project's error tree, at this one seam.

- RetryableError: UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED, CANCELLED
  (server down or restarting, overloaded, queue full or timed out, shutting down).
- BadInput: INVALID_ARGUMENT, OUT_OF_RANGE (the volume or spacing is wrong; retrying the same
  input will not help).
- PermanentError: INTERNAL, UNKNOWN, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
  UNAUTHENTICATED, FAILED_PRECONDITION, UNIMPLEMENTED, DATA_LOSS (the model fails on this
  input, or the deployment is wrong).

A bad-input answer whose text carries "lungs not covered:" becomes
`models.detection.inputs.LungsNotCovered` (Lung-RADS category 0), as with the in-process backend.
Errors raised by tritonclient without a status (connection set-up, shared memory) are
retryable. `unmapped_statuses()` lets a test prove every gRPC status code is mapped.
"""

from __future__ import annotations

from enum import Enum

import grpc
from tritonclient.utils import InferenceServerException

from kernel.errors import (
    LUNGS_NOT_COVERED_PREFIX,
    BadInput,
    LungscreenError,
    LungsNotCovered,
    PermanentError,
    RetryableError,
)

__all__ = [
    "Failure",
    "classify_status",
    "is_overload",
    "map_triton_error",
    "status_code_of",
    "unmapped_statuses",
]


class Failure(Enum):
    """What a failed call means for the caller."""

    RETRYABLE = "retryable"
    BAD_INPUT = "bad_input"
    PERMANENT = "permanent"


_STATUS_FAILURE: dict[grpc.StatusCode, Failure] = {
    grpc.StatusCode.UNAVAILABLE: Failure.RETRYABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Failure.RETRYABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: Failure.RETRYABLE,
    grpc.StatusCode.ABORTED: Failure.RETRYABLE,
    grpc.StatusCode.CANCELLED: Failure.RETRYABLE,
    grpc.StatusCode.INVALID_ARGUMENT: Failure.BAD_INPUT,
    grpc.StatusCode.OUT_OF_RANGE: Failure.BAD_INPUT,
    grpc.StatusCode.INTERNAL: Failure.PERMANENT,
    grpc.StatusCode.UNKNOWN: Failure.PERMANENT,
    grpc.StatusCode.NOT_FOUND: Failure.PERMANENT,
    grpc.StatusCode.ALREADY_EXISTS: Failure.PERMANENT,
    grpc.StatusCode.PERMISSION_DENIED: Failure.PERMANENT,
    grpc.StatusCode.UNAUTHENTICATED: Failure.PERMANENT,
    grpc.StatusCode.FAILED_PRECONDITION: Failure.PERMANENT,
    grpc.StatusCode.UNIMPLEMENTED: Failure.PERMANENT,
    grpc.StatusCode.DATA_LOSS: Failure.PERMANENT,
}

_ERROR_TYPE: dict[Failure, type[LungscreenError]] = {
    Failure.RETRYABLE: RetryableError,
    Failure.BAD_INPUT: BadInput,
    Failure.PERMANENT: PermanentError,
}

_REMEDY: dict[Failure, str] = {
    Failure.RETRYABLE: "retry later; check that the Triton server is up and not overloaded",
    Failure.BAD_INPUT: "fix the volume or spacing; retrying the same input will not help",
    Failure.PERMANENT: "quarantine the study and check the model and the server log",
}

# Triton's texts for "the server is healthy but busy": back off, keep the server in rotation.
_OVERLOAD_MARKERS = ("maximum queue size", "request timeout expired", "deadline exceeded")


def unmapped_statuses() -> list[grpc.StatusCode]:
    """gRPC status codes this module does not map (OK needs no mapping)."""
    return [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK and c not in _STATUS_FAILURE]


def status_code_of(exc: InferenceServerException) -> grpc.StatusCode | None:
    """The gRPC status of a tritonclient exception ("StatusCode.UNAVAILABLE" -> UNAVAILABLE)."""
    status = exc.status()
    if not status:
        return None
    name = str(status).rsplit(".", 1)[-1]
    return grpc.StatusCode.__members__.get(name)


def classify_status(code: grpc.StatusCode | None) -> Failure:
    """The meaning of a status; None (no status: connection set-up) is retryable."""
    if code is None:
        return Failure.RETRYABLE
    return _STATUS_FAILURE.get(code, Failure.PERMANENT)


def is_overload(exc: InferenceServerException) -> bool:
    """True when the server answered but is busy (queue full, queue timeout, slow)."""
    code = status_code_of(exc)
    if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED):
        return True
    text = (exc.message() or "").lower()
    return any(marker in text for marker in _OVERLOAD_MARKERS)


def map_triton_error(exc: InferenceServerException, server: str) -> LungscreenError:
    """The project error for `exc` raised by the server at `server`, message with remedy."""
    code = status_code_of(exc)
    failure = classify_status(code)
    status = code.name if code is not None else "no status"
    detail = (exc.message() or "").strip() or "no detail"
    if failure is Failure.BAD_INPUT and LUNGS_NOT_COVERED_PREFIX in detail:
        # The model's "category 0" answer: the same type as the in-process backend raises.
        return LungsNotCovered(detail.split(LUNGS_NOT_COVERED_PREFIX, 1)[1].strip())
    return _ERROR_TYPE[failure](
        f"Triton at {server} answered {status}: {detail}; {_REMEDY[failure]}"
    )
