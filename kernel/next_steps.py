"""What happens next to a study the model could not read: the one table from quarantine
reason to next step, for the technical recall list and the report's counts.

- `repeat_scan`: the images cannot answer the screening question (lungs not covered, slices
  too thick, too few or missing); the person is invited for a new low-dose CT.
- `manual_read`: the images may be adequate but the model could not read them (a file or
  the decoder failed, inference failed after its retries, unusual geometry, too large); a
  radiologist reads the study in the PACS viewer, and asks for a repeat scan if they cannot.
- `not_applicable`: no technical recall: the study is not a CT, or the person opted out.

A screened study in Lung-RADS category 0 needs a repeat scan when the model says the lungs are
not covered (reason `incomplete_lung_coverage`), and a manual read when it is a later round
whose prior screen was not found (reason `prior_not_found`: a reader locates the prior).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult

__all__ = ["NEXT_STEPS", "UNSPECIFIED", "NextStep", "technical_recall"]

UNSPECIFIED = "unspecified"
"""The reason code of a quarantine stored without one."""


class NextStep(StrEnum):
    """The next step for a study that could not be screened (stable codes)."""

    REPEAT_SCAN = "repeat_scan"
    MANUAL_READ = "manual_read"
    NOT_APPLICABLE = "not_applicable"


_R, _M, _N = NextStep.REPEAT_SCAN, NextStep.MANUAL_READ, NextStep.NOT_APPLICABLE

NEXT_STEPS = MappingProxyType({
    Reason.NOT_CT: _N,
    Reason.NO_AXIAL_SERIES: _M,  # localizer only, tilted or mixed stacks: a reader looks
    Reason.TOO_FEW_SLICES: _R,
    Reason.SLICE_GAP: _R,
    Reason.DUPLICATE_SLICES: _M,
    Reason.INCONSISTENT_SPACING: _M,
    Reason.THICK_SLICES: _R,
    Reason.INCOMPLETE_LUNG_COVERAGE: _R,
    Reason.UNREADABLE_FILE: _M,
    Reason.DECODE_FAILED: _M,
    Reason.INFERENCE_FAILED: _M,
    Reason.OPTED_OUT: _N,
    Reason.NO_SERIES: _M,  # no images found: a reader looks for them in the PACS
    Reason.TOO_LARGE: _M,
    Reason.PRIOR_NOT_FOUND: _M,  # a reader finds the prior screen and compares
})
"""Every `Reason` -> its `NextStep` (a test keeps it complete)."""


def technical_recall(result: StudyResult) -> tuple[str, NextStep] | None:
    """(reason code, next step) when `result` needs a repeat scan or a manual read, else
    None. A quarantine without a recorded reason reads `unspecified` and gets a manual read,
    so nobody is lost."""
    if result.outcome is Outcome.QUARANTINED:
        if result.reason is None:
            return UNSPECIFIED, _M
        step = NEXT_STEPS[result.reason]
        return None if step is _N else (result.reason.value, step)
    if result.outcome is Outcome.SCREENED and result.category is Category.INCOMPLETE:
        if result.reason is Reason.PRIOR_NOT_FOUND:
            return result.reason.value, NEXT_STEPS[result.reason]
        return Reason.INCOMPLETE_LUNG_COVERAGE.value, _R
    return None
