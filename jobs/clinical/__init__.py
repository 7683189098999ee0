"""Results into clinical systems: a screened study's result as a DICOM SR (TID 1500),
attached to the person's real study, for the authority only (re-identified and audited):
written to a folder or sent to the PACS with STOW-RS."""

from jobs.clinical.export import SrExport, export_sr
from jobs.clinical.sr import build_sr, patient_point
from jobs.clinical.stow import Sent, StowReport, stow_sr

__all__ = ["Sent", "SrExport", "StowReport", "build_sr", "export_sr", "patient_point", "stow_sr"]
