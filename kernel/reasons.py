"""Stable reason codes: why a file was rejected or a study quarantined.

Codes are part of the public surface (reports, metrics labels, JSON output, runbooks):
add new ones freely, never rename or reuse one.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FileReason", "Reason"]


class Reason(StrEnum):
    """Why a study could not be screened."""

    NOT_CT = "not_ct"
    NO_AXIAL_SERIES = "no_axial_series"
    TOO_FEW_SLICES = "too_few_slices"
    SLICE_GAP = "slice_gap"
    DUPLICATE_SLICES = "duplicate_slices"
    INCONSISTENT_SPACING = "inconsistent_spacing"
    THICK_SLICES = "thick_slices"
    INCOMPLETE_LUNG_COVERAGE = "incomplete_lung_coverage"
    UNREADABLE_FILE = "unreadable_file"
    DECODE_FAILED = "decode_failed"
    INFERENCE_FAILED = "inference_failed"
    OPTED_OUT = "opted_out"
    NO_SERIES = "no_series"
    TOO_LARGE = "too_large"
    # screened, Lung-RADS 0: a later round whose prior screen was not found in the campaign's
    # priors (the ACR's "prior chest CT being located for comparison")
    PRIOR_NOT_FOUND = "prior_not_found"


class FileReason(StrEnum):
    """Why a single file was not used (the study it belongs to may still be screened)."""

    NOT_DICOM = "not_dicom"
    UNREADABLE_FILE = "unreadable_file"
    NO_PIXEL_DATA = "no_pixel_data"
    MISSING_STUDY_UID = "missing_study_uid"
    TIMEOUT = "timeout"
