"""A screened study's result as a FHIR R4 transaction Bundle for the programme register, built
with fhir.resources' R4B models.

fhir.resources 8 ships R5 as its default models and R4B (4.3.0) and STU3 as sub-packages;
it has no plain R4 (4.0.1). R4B's Patient, ImagingStudy, Device, DiagnosticReport,
Observation and Bundle are R4's, so a register on R4 takes what is written here.

The mapping follows HL7's "DICOM SR to FHIR" where R4 has the resource (the SR's tracking UIDs
become the observations' identifiers, the algorithm a Device) and the Lithuanian
lung-screening IG (HL7LT ig-lt-lung) for the codes:

- Patient: only its identifier, the source's PatientID; ImagingStudy: the Study Instance UID
  and the selected series. Both are the register's records: created only where none has
  that identifier (conditional create), never overwritten.
- Device: the algorithm, model name and version.
- DiagnosticReport: `preliminary` (machine results are unverified until a reader signs),
  LOINC 79086-5 "CT Chest for screening WO contrast".
- One Observation for the Lung-RADS category: SNOMED CT 1362105002 "Lung Imaging Reporting
  and Data System category" (the IG's), valued with the IG's category code system (its
  binding is required) and the private code the SR carries.
- One Observation per nodule: SNOMED CT 786838002 "Nodule of lung" valued with its type (as
  the IG does), components for the mean diameter (the IG's SNOMED CT 255586005 "Mean", in
  UCUM mm), the solid part, the detection probability, the centre (patient LPS, mm, in the
  selected series' frame of reference) and, read against a prior, the change and the prior
  diameters.

All `preliminary`. Concepts without a standard code use the private scheme (`99LSCR`,
system `urn:lungscreen:99LSCR`; jobs.clinical.codes, shared with the SR); the codes and
where each comes from: jobs.clinical.fhir_codes.

A transaction rather than a collection: every entry says how the register applies it, so
sending the same bundle twice changes nothing. The report, observations and device are
conditional updates on an identifier derived from the study pseudonym, model version and
key fingerprint (created the first time, replaced after); the same parts give the same
bundle, byte for byte.

Pure: the study's identities in (`FhirStudy`, read from the source headers by
`fhir_study`), a Bundle out; the caller writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.device import Device, DeviceDeviceName, DeviceVersion
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.imagingstudy import ImagingStudy, ImagingStudySeries
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset

from jobs.clinical.codes import (
    CHANGE,
    CHANGES,
    LUNG,
    NODULE_TYPES,
    PRIOR_DIAMETER,
    PRIOR_SOLID_DIAMETER,
    PROBABILITY,
    SOLID_DIAMETER,
    category_code,
)
from jobs.clinical.fhir_codes import (
    CATEGORY_OBSERVATION,
    CENTRE,
    FRAME,
    IMAGING,
    MEAN_DIAMETER,
    NODULE_OF_LUNG,
    PRIVATE_SYSTEM,
    RADIOLOGY,
    SCREENING_CT,
    SYSTEMS,
    category_value,
    coding,
    nodule_type,
)
from jobs.clinical.sr import ReaderVerification, first_seen_uid, patient_point, sr_uid
from jobs.ingest.dicom.headers import SliceHeader
from kernel.contract import Nodule
from kernel.errors import BadInput
from kernel.records import StudyResult
from kernel.rounds import NoduleReading

__all__ = ["FhirStudy", "build_bundle", "bundle_json", "fhir_study",
           "fhir_url", "patient_system"]

_UCUM = SYSTEMS["UCUM"]
_URI = "urn:ietf:rfc:3986"  # an identifier that is itself a URI (urn:uuid:..., urn:oid:...)
_DICOM_UID = "urn:dicom:uid"
_MR = Coding(system="http://terminology.hl7.org/CodeSystem/v2-0203", code="MR",
             display="Medical record number")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lungscreen:fhir")


@dataclass(frozen=True)
class FhirStudy:
    """What a bundle attaches a result to, read from the sources. Holds PHI (the patient id,
    the exam date): for the bundle only."""

    patient_id: str
    patient_system: str
    study_uid: str
    study_date: str | None  # ISO date of the exam, as the source holds it
    series_uid: str
    modality: str
    instances: int
    frame_uid: str
    centres: tuple[tuple[float, float, float], ...]  # per nodule, patient LPS mm

    def __repr__(self) -> str:  # never print the identifiers by accident
        return f"{type(self).__name__}(<identifiers hidden>)"


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def patient_system(ds: Dataset) -> str:
    """The identifier system of the source's PatientID: its issuer's OID (`urn:oid:`) or URI
    where the header names one (IssuerOfPatientIDQualifiersSequence), else IssuerOfPatientID
    under the private scheme, else the private scheme's `patient-id` for the register to
    map."""
    for q in ds.get("IssuerOfPatientIDQualifiersSequence", None) or []:
        entity, kind = _text(q, "UniversalEntityID"), _text(q, "UniversalEntityIDType")
        if entity and kind == "ISO":
            return f"urn:oid:{entity}"
        if entity and kind in ("URI", "URL"):
            return entity
    issuer = _text(ds, "IssuerOfPatientID")
    if issuer:
        return f"{PRIVATE_SYSTEM}:issuer:{quote(issuer, safe='')}"
    return f"{PRIVATE_SYSTEM}:patient-id"


def fhir_study(first: Dataset, slices: Sequence[SliceHeader], result: StudyResult
               ) -> FhirStudy:
    """The identities of the study `first` (the selected series' first image, as the source
    holds it) and the patient-frame centres of `result`'s nodules in `slices` (the selected
    series, foot to head)."""
    patient_id = _text(first, "PatientID")
    if not patient_id:
        raise BadInput("a matched study's images have no PatientID, so the register cannot "
                       "file its result; fix the source's headers, then export again")
    day = _text(first, "StudyDate")
    study_date = f"{day[:4]}-{day[4:6]}-{day[6:]}" if len(day) == 8 and day.isdigit() else None
    centres = tuple(patient_point(slices, n.z, n.y, n.x) for n in result.nodules)
    return FhirStudy(
        patient_id=patient_id, patient_system=patient_system(first),
        study_uid=_text(first, "StudyInstanceUID"), study_date=study_date,
        series_uid=slices[0].series_uid, modality=slices[0].modality or "CT",
        instances=len(slices),
        frame_uid=slices[0].frame_of_reference_uid or _text(first, "FrameOfReferenceUID"),
        centres=centres)


def fhir_url(*parts: str) -> str:
    """A `urn:uuid:` derived from `parts` (the same parts give the same one)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, chr(31).join(parts))}"


def _concept(*codings: Coding | CodedConcept, text: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[c if isinstance(c, Coding) else coding(c) for c in codings],
                           text=text)


def _ref(url: str, kind: str) -> Reference:
    return Reference(reference=url, type=kind)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))  # the float's shortest repr, as the SR's float64


def _mm(value: float) -> Quantity:
    return Quantity(value=_decimal(value), unit="mm", system=_UCUM, code="mm")


def _day(iso: str | None) -> Any:
    """FHIR's dateTime takes a bare date (the exam's day); the models annotate datetime."""
    return iso


def _token(system: str, value: str) -> str:
    """`system|value` as a URL's token search parameter (FHIR escapes, then percent-encoded)."""
    for ch in "\\|,$":
        value = value.replace(ch, "\\" + ch)
    return quote(f"{system}|{value}", safe=":/|")


def _own(resource: Resource, url: str) -> BundleEntry:
    """An entry of ours: a conditional update on its identifier `url`."""
    kind = resource.get_resource_type()
    return BundleEntry(fullUrl=url, resource=resource, request=BundleEntryRequest(
        method="PUT", url=f"{kind}?identifier={_token(_URI, url)}"))


def _theirs(resource: Resource, url: str, identifier: Identifier) -> BundleEntry:
    """An entry of the register's: created only where none has `identifier`."""
    kind = resource.get_resource_type()
    return BundleEntry(fullUrl=url, resource=resource, request=BundleEntryRequest(
        method="POST", url=kind,
        ifNoneExist=f"identifier={_token(str(identifier.system), str(identifier.value))}"))


def _key(url: str) -> Identifier:
    return Identifier(system=_URI, value=url)


def _tracking(uid: str) -> Identifier:
    """The SR's tracking UID of the same finding (jobs.clinical.sr), linking the two."""
    return Identifier(system=_DICOM_UID, value=f"urn:oid:{uid}")


@dataclass(frozen=True)
class _Context:
    """What every observation of one bundle points at."""

    patient: str
    study: str
    device: str
    date: str | None
    status: str = "preliminary"  # "final" once a reader confirmed the result


def _observation(ctx: _Context, url: str, tracking_uid: str, code: CodeableConcept,
                 value: CodeableConcept, components: list[ObservationComponent], *,
                 derived: Sequence[str] = (), method: str | None = None, status: str = ""
                 ) -> Observation:
    return Observation(
        identifier=[_key(url), _tracking(tracking_uid)], status=status or ctx.status,
        category=[_concept(IMAGING)], code=code,
        subject=_ref(ctx.patient, "Patient"), effectiveDateTime=_day(ctx.date),
        valueCodeableConcept=value, bodySite=_concept(LUNG),
        method=None if method is None else CodeableConcept(text=method),
        device=_ref(ctx.device, "Device"),
        derivedFrom=[_ref(ctx.study, "ImagingStudy"),
                     *(_ref(u, "Observation") for u in derived)],
        component=components or None)


def _nodule_components(n: Nodule, centre: tuple[float, float, float], frame_uid: str,
                       reading: NoduleReading | None) -> list[ObservationComponent]:
    out = [ObservationComponent(code=_concept(MEAN_DIAMETER, text="Mean diameter"),
                                valueQuantity=_mm(n.diameter_mm)),
           ObservationComponent(code=_concept(SOLID_DIAMETER),
                                valueQuantity=_mm(n.solid_diameter_mm)),
           ObservationComponent(code=_concept(PROBABILITY), valueQuantity=Quantity(
               value=_decimal(n.probability), unit="1", system=_UCUM, code="1"))]
    out += [ObservationComponent(code=_concept(axis), valueQuantity=_mm(v))
            for axis, v in zip(CENTRE, centre, strict=True)]
    if frame_uid:
        out.append(ObservationComponent(code=_concept(FRAME), valueString=f"urn:oid:{frame_uid}"))
    if reading is not None:
        out.append(ObservationComponent(code=_concept(CHANGE),
                                        valueCodeableConcept=_concept(CHANGES[reading.change])))
        for concept, prior in ((PRIOR_DIAMETER, reading.prior_diameter_mm),
                               (PRIOR_SOLID_DIAMETER, reading.prior_solid_diameter_mm)):
            if prior is not None:
                out.append(ObservationComponent(code=_concept(concept), valueQuantity=_mm(prior)))
    return out


def _study_entries(result: StudyResult, study: FhirStudy, ctx: _Context) -> list[BundleEntry]:
    """The register's Patient and ImagingStudy, and the algorithm."""
    patient_key = Identifier(type=_concept(_MR), system=study.patient_system,
                             value=study.patient_id)
    study_key = Identifier(system=_DICOM_UID, value=f"urn:oid:{study.study_uid}")
    dicom = SYSTEMS["DCM"]
    imaging = ImagingStudy(
        identifier=[study_key], status="available", subject=_ref(ctx.patient, "Patient"),
        modality=[Coding(system=dicom, code=study.modality)],
        series=[ImagingStudySeries(uid=study.series_uid,
                                   modality=Coding(system=dicom, code=study.modality),
                                   numberOfInstances=study.instances)])
    device = Device(
        identifier=[_key(ctx.device)], status="active", manufacturer="lungscreen",
        deviceName=[DeviceDeviceName(name=result.model_name, type="model-name")],
        version=[DeviceVersion(value=result.model_version)],
        type=CodeableConcept(text="lung nodule detection and Lung-RADS algorithm"))
    return [_theirs(Patient(identifier=[patient_key]), ctx.patient, patient_key),
            _theirs(imaging, ctx.study, study_key), _own(device, ctx.device)]


def build_bundle(result: StudyResult, study: FhirStudy, *, key_fingerprint: str,
                 tracking_uids: Sequence[str] | None = None,
                 verification: ReaderVerification | None = None) -> Bundle:
    """The transaction Bundle of the screened `result` for the study `study`: Patient,
    ImagingStudy, Device, the preliminary DiagnosticReport, the Lung-RADS category and one
    Observation per nodule. `tracking_uids`: the SR's, one per nodule (the same nodule's
    across rounds: jobs.clinical.tracking; default each first seen here). With a reader's
    confirmed decision (`verification`) the report and observations are `final`, the
    category is the reader's, the reader is the results interpreter and a nodule the reader
    rejected is `entered-in-error` (so one sent before is withdrawn in the register). PHI
    comes from `study` only and goes only into the bundle."""
    if len(study.centres) != len(result.nodules):
        raise ValueError(f"{len(study.centres)} centres for {len(result.nodules)} nodules")
    parts = (result.study_pid, result.model_version, key_fingerprint)
    ctx = _Context(patient=fhir_url(result.patient_pid, key_fingerprint, "patient"),
                   study=fhir_url(*parts, "imaging-study"),
                   device=fhir_url(result.model_name, result.model_version, "device"),
                   date=study.study_date,
                   status="preliminary" if verification is None else "final")
    rejected = set(verification.rejected) if verification is not None else set()
    readings = result.reading.nodules if result.reading is not None else ()
    observations: list[tuple[str, Observation]] = []
    nodule_urls = []
    for i, (n, centre) in enumerate(zip(result.nodules, study.centres, strict=True)):
        url = fhir_url(*parts, "nodule", str(i))
        components = _nodule_components(n, centre, study.frame_uid,
                                        readings[i] if i < len(readings) else None)
        observations.append((url, _observation(
            ctx, url, tracking_uids[i] if tracking_uids is not None
            else first_seen_uid(result, i, key_fingerprint), _concept(NODULE_OF_LUNG),
            _concept(*nodule_type(n.type), NODULE_TYPES[n.type]), components,
            status="entered-in-error" if i + 1 in rejected else "")))
        if i + 1 not in rejected:
            nodule_urls.append(url)
    conclusion = None
    confirmed = result.category if verification is None else verification.category
    if confirmed is not None:
        value = confirmed.value
        url = fhir_url(*parts, "category")
        observations.insert(0, (url, _observation(
            ctx, url, sr_uid(*parts, "study"), _concept(CATEGORY_OBSERVATION),
            _concept(category_value(value), category_code(value), text=f"Lung-RADS {value}"),
            [], derived=nodule_urls, method="Lung-RADS v2022")))
        conclusion = _concept(category_value(value), category_code(value))
    report_url = fhir_url(*parts, result.model_name, "report")
    category = confirmed.value if confirmed is not None else "not assigned"
    kept = len(result.nodules) - len(rejected)
    how = "AI, unverified" if verification is None else \
        f"confirmed by reader {verification.observer_name}"
    report = DiagnosticReport(
        identifier=[_key(report_url)], status=ctx.status, category=[_concept(RADIOLOGY)],
        code=_concept(SCREENING_CT), subject=_ref(ctx.patient, "Patient"),
        effectiveDateTime=_day(ctx.date), imagingStudy=[_ref(ctx.study, "ImagingStudy")],
        result=[_ref(u, "Observation") for u, o in observations
                if o.status != "entered-in-error"],
        resultsInterpreter=None if verification is None else [
            Reference(display=verification.observer_name)],
        conclusion=(f"Lung-RADS {category}, {kept} nodule(s): "
                    f"{result.model_name} {result.model_version} ({how})"),
        conclusionCode=None if conclusion is None else [conclusion])
    entries = [*_study_entries(result, study, ctx), _own(report, report_url)]
    entries += [_own(o, url) for url, o in observations]
    return Bundle(type="transaction", entry=entries)


def bundle_json(bundle: Bundle) -> bytes:
    """`bundle` as the JSON file the register is sent (UTF-8, indented, newline-terminated)."""
    return bundle.model_dump_json(indent=2).encode("utf-8") + b"\n"
