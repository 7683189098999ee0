"""A screened study's result as a DICOM Structured Report, TID 1500 (Measurement Report) in a
Comprehensive 3D SR, built with highdicom.

One planar-ROI measurement group (TID 1410) per nodule: a tracking identifier and UID, its
centre as an SCOORD3D POINT in the patient frame of the selected series, mean and solid-part
diameters, detection probability, nodule type, and, when the screen was read against a prior
(kernel.rounds.RoundReading), the change and the prior diameter. One study-level group
(TID 1501) carries the Lung-RADS category. Every group names the algorithm (model name and
version); the report is UNVERIFIED until a reader signs it: given the reader's confirmed
decision (`ReaderVerification`, from the reading worklist), it is VERIFIED with the reader as
VerifyingObserver at the decision's time, the study group carries the confirmed category (as
the reader's, without the algorithm), and the nodules the reader rejected are left out (the
others keep their numbers and tracking UIDs). The evidence is the selected series' SOP
instances.

Concepts without a standard code use the private scheme `99LSCR` (lungscreen;
jobs.clinical.codes, shared with the FHIR bundle).
Everything here is pure: source headers in, a dataset out; the caller writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from highdicom.base_content import ContributingEquipment
from highdicom.sr import (
    AlgorithmIdentification,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    ImageRegion3D,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    PlanarROIMeasurementsAndQualitativeEvaluations,
    QualitativeEvaluation,
    TrackingIdentifier,
)
from highdicom.sr.enum import GraphicTypeValues3D
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid
from pydicom.valuerep import DT

from jobs.clinical.codes import (
    CHANGE,
    CHANGES,
    CT_CHEST,
    DIAMETER,
    LUNG,
    LUNG_RADS,
    MM,
    NODULE,
    NODULE_TYPE,
    NODULE_TYPES,
    PRIOR_DIAMETER,
    PRIOR_SOLID_DIAMETER,
    PROBABILITY,
    SCHEME,
    SOLID_DIAMETER,
    UNITLESS,
    category_code,
)
from jobs.ingest.dicom.headers import SliceHeader
from kernel.contract import Nodule
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.records import StudyResult
from kernel.rounds import NoduleReading

__all__ = ["CHANGE", "LUNG_RADS", "NODULE_TYPE", "SCHEME", "ReaderVerification", "SrIdentity",
           "build_sr", "category_code", "first_seen_uid", "patient_point", "sr_uid"]

# highdicom's debug lines name the source datasets by UID and the attributes it copies: PHI
logging.getLogger("highdicom").setLevel(logging.WARNING)


@dataclass(frozen=True)
class SrIdentity:
    """What makes a report the same report on every export: its SOP Instance UID and its
    series UID, derived from the study pseudonym, model version and key fingerprint."""

    sop_instance_uid: str
    series_instance_uid: str


@dataclass(frozen=True)
class ReaderVerification:
    """A reader's confirmed decision on the study (jobs.review): who, when, the confirmed
    category and the nodules rejected (1-based). `organization`: the reader's, else the
    study's institution."""

    observer_name: str
    verified_at: datetime
    category: Category
    rejected: tuple[int, ...] = ()
    organization: str = ""


def sr_uid(*parts: str) -> str:
    """A UID derived from `parts` (the same parts give the same UID)."""
    return str(generate_uid(entropy_srcs=["lungscreen-sr", *parts]))


def first_seen_uid(result: StudyResult, index: int, key_fingerprint: str) -> str:
    """The tracking UID of nodule `index` of `result` when it was first seen there."""
    return sr_uid(result.study_pid, result.model_version, key_fingerprint, "nodule", str(index))


def patient_point(slices: Sequence[SliceHeader], z: float, y: float, x: float
                  ) -> tuple[float, float, float]:
    """Patient (x, y, z) mm (LPS) of voxel (z, y, x) of the volume stacked from `slices`
    (ordered foot to head, as selection orders them): the slice position interpolated along
    the stack, plus the in-plane offset along the row and column directions."""
    positions = np.array([s.position for s in slices], dtype=np.float64)
    first = slices[0]
    if first.orientation is None or first.pixel_spacing is None or positions.ndim != 2:
        raise BadInput("the selected series lacks ImageOrientationPatient, "
                       "ImagePositionPatient or PixelSpacing; it cannot be reported in SR")
    index = np.arange(len(slices), dtype=np.float64)
    origin = np.array([np.interp(z, index, positions[:, k]) for k in range(3)])
    row_dir = np.asarray(first.orientation[:3], dtype=np.float64)  # along a row: columns (x)
    col_dir = np.asarray(first.orientation[3:], dtype=np.float64)  # down a column: rows (y)
    row_spacing, col_spacing = first.pixel_spacing[0], first.pixel_spacing[1]
    point = origin + x * col_spacing * row_dir + y * row_spacing * col_dir
    return (float(point[0]), float(point[1]), float(point[2]))


def _evidence(first: Dataset, slices: Sequence[SliceHeader]) -> list[Dataset]:
    """One header per selected instance: the study's patient and study attributes (from the
    first image) with each instance's series, SOP class and SOP instance UIDs."""
    keep = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
            "StudyID", "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName")
    out = []
    for s in slices:
        ds = Dataset()
        for keyword in keep:
            ds.__setattr__(keyword, first.get(keyword, ""))
        ds.SeriesInstanceUID = s.series_uid
        ds.SOPClassUID = s.sop_class_uid
        ds.SOPInstanceUID = s.sop_uid
        ds.Modality = s.modality
        out.append(ds)
    return out


def _nodule_group(n: Nodule, number: int, centre: tuple[float, float, float],
                  frame_uid: str, tracking_uid: str, algorithm: AlgorithmIdentification,
                  reading: NoduleReading | None) -> PlanarROIMeasurementsAndQualitativeEvaluations:
    measurements = [
        Measurement(DIAMETER, float(n.diameter_mm), MM, algorithm_id=algorithm),
        Measurement(SOLID_DIAMETER, float(n.solid_diameter_mm), MM, algorithm_id=algorithm),
        Measurement(PROBABILITY, float(n.probability), UNITLESS, algorithm_id=algorithm),
    ]
    evaluations = [QualitativeEvaluation(NODULE_TYPE, NODULE_TYPES[n.type])]
    if reading is not None:
        evaluations.append(QualitativeEvaluation(CHANGE, CHANGES[reading.change]))
        prior = reading.prior_diameter_mm
        if prior is not None:
            measurements.append(Measurement(PRIOR_DIAMETER, float(prior), MM))
        prior_solid = reading.prior_solid_diameter_mm
        if prior_solid is not None:
            measurements.append(Measurement(PRIOR_SOLID_DIAMETER, float(prior_solid), MM))
    region = ImageRegion3D(graphic_type=GraphicTypeValues3D.POINT,
                           graphic_data=np.array([centre], dtype=np.float64),
                           frame_of_reference_uid=frame_uid)
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=tracking_uid, identifier=f"nodule {number}"),
        referenced_region=region, finding_type=NODULE, algorithm_id=algorithm,
        finding_sites=[FindingSite(LUNG)], measurements=measurements,
        qualitative_evaluations=evaluations)


def build_sr(result: StudyResult, first: Dataset, slices: Sequence[SliceHeader], *,
             identity: SrIdentity, key_fingerprint: str,
             tracking_uids: Sequence[str] | None = None,
             verification: ReaderVerification | None = None) -> Comprehensive3DSR:
    """The TID 1500 report of the screened `result`, attached to the study `first` (the
    selected series' first image, as the source holds it) and referencing `slices` (the
    selected series, foot to head). `tracking_uids`: one per nodule, the same for a nodule
    across rounds (jobs.clinical.tracking; default: each first seen here). VERIFIED by the
    reader of `verification`, on their confirmed category, when given (else UNVERIFIED).
    PHI comes from `first` only and goes only into the returned dataset."""
    frame_uid = slices[0].frame_of_reference_uid or str(first.get("FrameOfReferenceUID", ""))
    if not frame_uid:
        raise BadInput("the selected series has no FrameOfReferenceUID; its nodule "
                       "positions cannot be reported in SR")
    algorithm = AlgorithmIdentification(name=result.model_name, version=result.model_version)
    readings = result.reading.nodules if result.reading is not None else ()
    groups: list[PlanarROIMeasurementsAndQualitativeEvaluations
                 | MeasurementsAndQualitativeEvaluations] = []
    rejected = set(verification.rejected) if verification is not None else set()
    for i, n in enumerate(result.nodules):
        if i + 1 in rejected:
            continue
        reading = readings[i] if i < len(readings) else None
        tracking_uid = tracking_uids[i] if tracking_uids is not None else first_seen_uid(
            result, i, key_fingerprint)
        groups.append(_nodule_group(n, i + 1, patient_point(slices, n.z, n.y, n.x),
                                    frame_uid, tracking_uid, algorithm, reading))
    category = verification.category if verification is not None else result.category
    if category is not None:
        groups.append(MeasurementsAndQualitativeEvaluations(
            tracking_identifier=TrackingIdentifier(
                uid=sr_uid(result.study_pid, result.model_version, key_fingerprint, "study"),
                identifier="study"),
            algorithm_id=algorithm if verification is None else None,
            finding_sites=[FindingSite(LUNG)],
            qualitative_evaluations=[QualitativeEvaluation(LUNG_RADS,
                                                           category_code(category.value))]))
    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=sr_uid(result.model_name, result.model_version), name=result.model_name,
            model_name=f"{result.model_name} {result.model_version}"))
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=device),
        procedure_reported=CT_CHEST, imaging_measurements=groups)
    equipment = ContributingEquipment(
        "lungscreen", codes.DCM.ProcessingEquipment,
        manufacturer_model_name=result.model_name, software_versions=result.model_version,
        contribution_description="nodule detection and Lung-RADS category (AI)")
    if verification is None:
        sr = Comprehensive3DSR(
            evidence=_evidence(first, slices), content=report[0],
            series_instance_uid=identity.series_instance_uid, series_number=9001,
            sop_instance_uid=identity.sop_instance_uid, instance_number=1,
            manufacturer="lungscreen", is_complete=True, is_final=False, is_verified=False,
            series_description="lungscreen nodule report (AI, unverified)",
            contributing_equipment=[equipment])
        sr.CodingSchemeIdentificationSequence = [_private_scheme()]
        return sr
    name = verification.observer_name
    sr = Comprehensive3DSR(
        evidence=_evidence(first, slices), content=report[0],
        series_instance_uid=identity.series_instance_uid, series_number=9001,
        sop_instance_uid=identity.sop_instance_uid, instance_number=1,
        manufacturer="lungscreen", is_complete=True, is_final=True, is_verified=True,
        # a reader id without components is a family name alone (PS3.5 6.2.1.2)
        verifying_observer_name=name if "^" in name else f"{name[:63]}^",
        verifying_organization=(verification.organization
                                or str(first.get("InstitutionName", "") or "unknown")),
        series_description="lungscreen nodule report (AI, verified by a reader)",
        contributing_equipment=[equipment])
    sr.VerifyingObserverSequence[0].VerificationDateTime = DT(verification.verified_at)
    sr.CodingSchemeIdentificationSequence = [_private_scheme()]
    return sr


def _private_scheme() -> Dataset:
    """The declaration of scheme 99LSCR, as PS3.3 C.12.1.1.5 asks of a private scheme."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "lungscreen screening concepts"
    item.CodingSchemeResponsibleOrganization = "lungscreen"
    return item

