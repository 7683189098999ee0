"""Calls over a pool of Triton servers: fail over at once from a server that is down,
back off (capped, exponential, with jitter) from one that is overloaded, never retry bad
input, and report every attempt to the metrics hook. Errors are mapped by
cluster.triton.errors."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from tritonclient.utils import InferenceServerException

from cluster.triton.config import TritonClientConfig
from cluster.triton.errors import Failure, classify_status, is_overload, map_triton_error
from cluster.triton.errors import status_code_of as _status_code_of
from cluster.triton.pool import Server, ServerPool
from cluster.triton.stats import OnRequest, Outcome
from kernel.errors import BadInput, LungscreenError, RetryableError

__all__ = ["call_any"]

_log = logging.getLogger("cluster")
_T = TypeVar("_T")
_OUTCOME = {
    Failure.RETRYABLE: Outcome.RETRYABLE,
    Failure.BAD_INPUT: Outcome.BAD_INPUT,
    Failure.PERMANENT: Outcome.PERMANENT,
}


def call_any(
    pool: ServerPool,
    config: TritonClientConfig,
    on_request: OnRequest | None,
    what: str,
    call: Callable[[Server], _T],
    shape: tuple[int, ...] | None = None,
) -> _T:
    """`call` on a healthy server of `pool`, failing over and backing off; reports each
    attempt to `on_request` (None: not reported)."""
    cfg = config
    delay = cfg.backoff_initial_s
    last: LungscreenError | None = None
    failed: Server | None = None
    for attempt in range(1, cfg.max_attempts + 1):
        server = (
            pool.pick(exclude=failed)
            or pool.pick(exclude=None)
            or pool.pick(exclude=None, ignore_cooldown=True)
        )
        if server is not None:
            started = time.monotonic()
            try:
                result = call(server)
            except LungscreenError as exc:  # checks on our side: bad input, bad output
                _report(on_request, server.url, _outcome_of(exc), time.monotonic() - started)
                raise
            except InferenceServerException as exc:
                error, outcome = _failure(server, exc, cfg.cooldown_s)
                _report(on_request, server.url, outcome, time.monotonic() - started)
                if not isinstance(error, RetryableError):
                    raise error from None
                last, failed = error, server
                _log.info(
                    "triton %s failed on %s (attempt %d): %s", what, server.url, attempt, error
                )
                if server.down_until > time.monotonic() and pool.another_healthy(server):
                    continue  # it is down: fail over at once (overload: back off first)
            else:
                _report(on_request, server.url, Outcome.OK, time.monotonic() - started)
                return result
        else:
            last = RetryableError(
                f"no Triton server is healthy ({', '.join(cfg.urls)}); check that they run"
            )
        if attempt < cfg.max_attempts:
            time.sleep(delay / 2 + random.uniform(0, delay / 2))
            delay = min(delay * 2, cfg.backoff_max_s)
    size = "" if shape is None else f" (volume shape {list(shape)})"
    raise RetryableError(
        f"could not {what}{size} after {cfg.max_attempts} attempts over "
        f"{len(cfg.urls)} server(s); last error: {last}"
    )


def _failure(
    server: Server, exc: InferenceServerException, cooldown_s: float
) -> tuple[LungscreenError, Outcome]:
    text = (exc.message() or "").lower()
    if server.shm is not None and "shared memory" in text:
        # The server lost our registration (restarted): re-register next time.
        server.drop_pool(grace_s=0)
        lost = RetryableError(f"Triton at {server.url} lost a shared-memory region")
        return lost, Outcome.RETRYABLE
    failure = classify_status(_status_code_of(exc))
    error = map_triton_error(exc, server.url)
    if failure is Failure.RETRYABLE and not is_overload(exc):
        server.mark_down(cooldown_s)
    return error, _OUTCOME[failure]


def _report(on_request: OnRequest | None, url: str, outcome: Outcome, seconds: float) -> None:
    if on_request is not None:
        try:
            on_request(url, outcome, seconds)
        except Exception:  # a broken metrics hook must not fail inference
            _log.exception("on_request hook failed")


def _outcome_of(error: LungscreenError) -> Outcome:
    if isinstance(error, BadInput):
        return Outcome.BAD_INPUT
    if isinstance(error, RetryableError):
        return Outcome.RETRYABLE
    return Outcome.PERMANENT
