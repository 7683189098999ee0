"""Results into clinical systems: a screened study's result as a DICOM SR (TID 1500),
attached to the person's real study, or as a FHIR R4 Bundle for the programme register, for
the authority only (re-identified and audited)."""

from jobs.clinical.export import ClinicalExport, export_fhir, export_sr
from jobs.clinical.fhir import build_bundle
from jobs.clinical.sr import build_sr, patient_point

__all__ = ["ClinicalExport", "build_bundle", "build_sr", "export_fhir", "export_sr",
           "patient_point"]
