"""Results into clinical systems: a screened study's result as a DICOM SR (TID 1500),
attached to the person's real study, for the authority only (re-identified and audited)."""

from jobs.clinical.export import SrExport, export_sr
from jobs.clinical.sr import build_sr, patient_point

__all__ = ["SrExport", "build_sr", "export_sr", "patient_point"]
