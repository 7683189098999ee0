"""The project's error tree: few types, each saying what went wrong and what to do.

    LungscreenError
    ├── BadInput        the caller's input is wrong (spec, arguments, sources, a volume
    │                   the model cannot handle); retrying will not help; CLI exit 2
    ├── RetryableError  a server or node is unavailable or overloaded; retry with backoff
    └── PermanentError  the work itself fails every time (a poison study, a broken model);
                        quarantine it, do not retry forever

Third-party errors (Triton, Ray, SQLAlchemy, pydicom) are mapped into these at their seams.
Messages name the offending value, what was expected and the remedy, and never carry PHI.
"""

from __future__ import annotations

__all__ = ["BadInput", "LungscreenError", "PermanentError", "RetryableError"]


class LungscreenError(Exception):
    """Base of every error lungscreen raises on purpose."""


class BadInput(LungscreenError):
    """The input is wrong; fix it and try again. Maps to exit code 2."""


class RetryableError(LungscreenError):
    """A transient failure (server down, overloaded, timed out); retry with backoff."""


class PermanentError(LungscreenError):
    """A failure that repeats on every try; quarantine the work item with a reason."""
