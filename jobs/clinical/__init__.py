"""Results into clinical systems: a screened study's result as a DICOM SR (TID 1500),
attached to the person's real study, for the authority only (re-identified and audited)."""

from jobs.clinical.sr import build_sr, patient_point

__all__ = ["build_sr", "patient_point"]
