"""The project's error tree: few types, each saying what went wrong and what to do.

    LungscreenError
    ├── BadInput        the caller's input is wrong (spec, arguments, sources, a volume
    │                   the model cannot handle); retrying will not help; CLI exit 2
    ├── RetryableError  a server or node is unavailable or overloaded; retry with backoff
    │   └── LungsNotCovered  the volume does not show the lungs (Lung-RADS category 0)
    └── PermanentError  the work itself fails every time (a poison study, a broken model);
                        quarantine it, do not retry forever

Third-party errors (Triton, Ray, SQLAlchemy, pydicom) are mapped into these at their seams.
Messages name the offending value, what was expected and the remedy, and never carry PHI.
"""

from __future__ import annotations

from kernel.reasons import Reason

__all__ = [
    "LUNGS_NOT_COVERED_PREFIX",
    "BadInput",
    "LungsNotCovered",
    "LungscreenError",
    "PermanentError",
    "RetryableError",
]

# Over Triton a LungsNotCovered message starts with this, so a client can tell it from other
# bad input.
LUNGS_NOT_COVERED_PREFIX = "lungs not covered:"


class LungscreenError(Exception):
    """Base of every error lungscreen raises on purpose."""


class BadInput(LungscreenError):
    """The input is wrong; fix it and try again. Maps to exit code 2."""


class RetryableError(LungscreenError):
    """A transient failure (server down, overloaded, timed out); retry with backoff."""


class PermanentError(LungscreenError):
    """A failure that repeats on every try; quarantine the work item with a reason."""


class LungsNotCovered(BadInput):
    """The volume does not show (enough of) the lungs: Lung-RADS category 0."""

    reason = Reason.INCOMPLETE_LUNG_COVERAGE

    def __init__(self, detail: str) -> None:
        super().__init__(f"{LUNGS_NOT_COVERED_PREFIX} {detail}")
