"""Writing synthetic images as real DICOM files: one file per slice, Part 10 with preamble.

One `Dataset` is built per series and only the per-slice elements change between files, so
writing runs close to disk speed. Vendors differ the way real ones do: unsigned pixels with
intercept -1024 or signed ones with intercept -1024 or 0, 12 or 16 bits stored, instance
numbers from the head or from the feet, SpacingBetweenSlices present or not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.encoders.base import (
    Encoder,
    JPEG2000LosslessEncoder,
    JPEGLSLosslessEncoder,
    RLELosslessEncoder,
)
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from synth.fastwrite import PER_SLICE_TAGS, SeriesEncoder
from synth.people import Identity

__all__ = [
    "CT_IMAGE_STORAGE",
    "ENCODING_PLUGINS",
    "MR_IMAGE_STORAGE",
    "VENDORS",
    "SeriesInfo",
    "SliceOut",
    "StudyInfo",
    "Vendor",
    "available_syntaxes",
    "write_series",
]

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
IMPLEMENTATION_UID = UID("2.25.229461946385236795419436935394611011873")
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)

# transfer syntax -> the encoding plugin to use (None: native, no encoder needed)
ENCODING_PLUGINS: dict[UID, str | None] = {
    ExplicitVRLittleEndian: None,
    ImplicitVRLittleEndian: None,
    RLELossless: "pylibjpeg",
    JPEG2000Lossless: "pylibjpeg",
    JPEGLSLossless: "pyjpegls",
}


_ENCODERS: dict[UID, Encoder] = {RLELossless: RLELosslessEncoder,
                                 JPEG2000Lossless: JPEG2000LosslessEncoder,
                                 JPEGLSLossless: JPEGLSLosslessEncoder}


def available_syntaxes() -> dict[UID, bool]:
    """Which transfer syntaxes can be written here (compressed ones need an encoder)."""
    out: dict[UID, bool] = {}
    for uid, plugin in ENCODING_PLUGINS.items():
        enc = _ENCODERS.get(uid)
        out[uid] = plugin is None or (enc is not None and plugin in enc.available_plugins)
    return out


@dataclass(frozen=True)
class Vendor:
    """How one manufacturer's scanners store CT images."""

    manufacturer: str
    model: str
    signed: bool
    intercept: float
    bits_stored: int
    kernels: tuple[str, str, str]  # sharp, medium, soft
    head_first_numbering: bool
    spacing_tag: bool


VENDORS: tuple[Vendor, ...] = (
    Vendor("SIEMENS", "SOMATOM Definition AS", False, -1024.0, 12, ("Br60f", "Br40f", "Br36f"),
           True, False),
    Vendor("GE MEDICAL SYSTEMS", "Revolution CT", True, -1024.0, 16, ("LUNG", "STANDARD", "SOFT"),
           False, True),
    Vendor("Philips", "Ingenuity CT", False, -1024.0, 12, ("YB", "B", "A"), True, True),
    Vendor("TOSHIBA", "Aquilion ONE", True, 0.0, 16, ("FC51", "FC13", "FC07"), False, False),
)


@dataclass(frozen=True)
class StudyInfo:
    """What every file of a study shares."""

    study_uid: str
    frame_uid: str
    identity: Identity
    vendor: Vendor
    syntax: UID
    kvp: float
    tube_ma: float
    kernel: str
    patient_position: str  # "FFS" | "HFS"
    round: int = 1  # the screening round: ClinicalTrialTimePointID


@dataclass(frozen=True)
class SeriesInfo:
    """What every file of a series shares."""

    series_uid: str
    number: int
    description: str
    thickness: float
    pixel_spacing: tuple[float, float]  # (row, column) spacing, mm
    orientation: tuple[float, float, float, float, float, float] = AXIAL
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    modality: str = "CT"
    spacing_between: float | None = None


@dataclass(frozen=True)
class SliceOut:
    """One file to write: its path, HU pixels [rows, cols], position (x, y, z) LPS mm."""

    path: Path
    hu: npt.NDArray[np.int16]
    position: tuple[float, float, float]
    instance: int


def _base(study: StudyInfo, series: SeriesInfo, rows: int, cols: int) -> Dataset:
    ident, vendor = study.identity, study.vendor
    mr = series.modality == "MR"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE if mr else CT_IMAGE_STORAGE
    ds.file_meta.TransferSyntaxUID = study.syntax
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "LUNGSCREEN_SYN"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(series.image_type)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    for tag in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        setattr(ds, tag, ident.StudyDate)
    for tag in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"):
        setattr(ds, tag, ident.StudyTime)
    ds.AccessionNumber = ident.AccessionNumber
    ds.Modality = series.modality
    ds.Manufacturer = vendor.manufacturer
    ds.InstitutionName = ident.InstitutionName
    ds.InstitutionAddress = ident.InstitutionAddress
    ds.ReferringPhysicianName = ident.ReferringPhysicianName
    ds.StationName = ident.StationName
    ds.StudyDescription = "CT CHEST LOW DOSE SCREENING" if not mr else "MR THORAX"
    ds.SeriesDescription = series.description
    ds.PerformingPhysicianName = ident.PerformingPhysicianName
    ds.OperatorsName = ident.OperatorsName
    ds.ManufacturerModelName = vendor.model
    ds.PatientName = ident.PatientName
    ds.PatientID = ident.PatientID
    ds.PatientBirthDate = ident.PatientBirthDate
    ds.PatientSex = ident.sex
    ds.OtherPatientIDs = ident.OtherPatientIDs
    ds.PatientAge = f"{ident.age:03d}Y"
    ds.PatientAddress = ident.PatientAddress
    ds.PatientTelephoneNumbers = ident.PatientTelephoneNumbers
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = _ds(series.thickness)
    ds.DeviceSerialNumber = ident.DeviceSerialNumber
    if not mr:
        ds.KVP = _ds(study.kvp)
        ds.XRayTubeCurrent = round(study.tube_ma)
        ds.ExposureTime = 500
        ds.Exposure = round(study.tube_ma * 0.5)
        ds.ConvolutionKernel = study.kernel
    if series.spacing_between is not None:
        ds.SpacingBetweenSlices = _ds(series.spacing_between)
    ds.PatientPosition = study.patient_position
    ds.ClinicalTrialTimePointID = str(study.round)  # (0012,0050): a prior is expected when > 1
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.StudyID = ident.StudyID
    ds.SeriesNumber = series.number
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [_ds(v) for v in series.orientation]
    ds.FrameOfReferenceUID = study.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [_ds(series.pixel_spacing[0]), _ds(series.pixel_spacing[1])]
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if mr else vendor.bits_stored
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0 if mr else int(vendor.signed)
    if not mr:
        ds.WindowCenter = "-600"
        ds.WindowWidth = "1500"
        ds.RescaleIntercept = _ds(vendor.intercept)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
    return ds


def _ds(value: float) -> str:
    """A decimal string (DS holds 16 characters)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if len(text) <= 16 else f"{value:.6g}"


def _stored(hu: npt.NDArray[np.int16], study: StudyInfo, modality: str) -> npt.NDArray[np.generic]:
    if modality == "MR":  # an MR-like grey scale; not HU
        return np.clip((hu.astype(np.int32) + 1024) // 3, 0, 4095).astype(np.uint16)
    stored = hu.astype(np.int32) - int(study.vendor.intercept)
    if study.vendor.signed:
        return stored.astype(np.int16)
    return np.clip(stored, 0, 2**study.vendor.bits_stored - 1).astype(np.uint16)


@contextmanager
def _quiet_encoder() -> Iterator[None]:
    """openjpeg logs one INFO line per encoded tile; keep it to warnings while we write."""
    logger = logging.getLogger("openjpeg")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def write_series(study: StudyInfo, series: SeriesInfo, slices: Iterable[SliceOut]) -> int:
    """Write each slice as one file (parents created); returns the bytes written."""
    with _quiet_encoder():
        return _write_series(study, series, slices)


def _write_series(study: StudyInfo, series: SeriesInfo, slices: Iterable[SliceOut]) -> int:
    encoder: SeriesEncoder | None = None
    plugin = ENCODING_PLUGINS.get(study.syntax)
    total = 0
    for s in slices:
        rows, cols = int(s.hu.shape[0]), int(s.hu.shape[1])
        if encoder is None:
            base = _base(study, series, rows, cols)
            encoder = SeriesEncoder(base, study.syntax)
            pixel_kw: dict[str, Any] = {"rows": rows, "columns": cols, "samples_per_pixel": 1,
                        "bits_allocated": 16, "bits_stored": int(base.BitsStored),
                        "pixel_representation": int(base.PixelRepresentation),
                        "photometric_interpretation": "MONOCHROME2", "number_of_frames": 1}
        sop, number, position, location = PER_SLICE_TAGS
        per_slice = {sop: f"{series.series_uid}.{s.instance}", number: str(s.instance),
                     position: "\\".join(_ds(v) for v in s.position)}
        if series.orientation == AXIAL:
            per_slice[location] = _ds(s.position[2])
        arr = np.ascontiguousarray(_stored(s.hu, study, series.modality))
        if plugin is None:
            pixels = arr.tobytes()
        else:
            pixels = _ENCODERS[study.syntax].encode(arr, encoding_plugin=plugin, **pixel_kw)
        s.path.parent.mkdir(parents=True, exist_ok=True)
        data = encoder.file_bytes(per_slice, pixels)
        s.path.write_bytes(data)
        total += len(data)
    return total
