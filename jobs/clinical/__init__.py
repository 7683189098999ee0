"""Results into clinical systems: a screened study's result as a DICOM SR (TID 1500),
attached to the person's real study, or as a FHIR R4 Bundle for the programme register, for
the authority only (re-identified and audited): written to a folder, or the SRs sent to the
PACS with STOW-RS."""

from jobs.clinical.export import ClinicalExport, export_fhir, export_sr, sr_bytes
from jobs.clinical.fhir import build_bundle
from jobs.clinical.sr import SrIdentity, build_sr, patient_point, sr_uid
from jobs.clinical.stow import Sent, StowReport, send_report, stow_sr

__all__ = ["ClinicalExport", "Sent", "SrIdentity", "StowReport", "build_bundle", "build_sr",
           "export_fhir", "export_sr", "patient_point", "send_report", "sr_bytes", "sr_uid",
           "stow_sr"]
