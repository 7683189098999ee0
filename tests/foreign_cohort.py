"""A small chest-CT cohort written by "another program": an independent DICOM writer
(pydicom only; nothing from synth/) with conventions synth does not use, and a simple
phantom with known findings.

Conventions that differ from synth, on purpose:
- every file of every study in ONE flat folder, random names, no extension;
- `head_first`: slices stored head to foot (instance 1 at the top, z decreasing),
  unsigned pixels with RescaleIntercept -1024;
- `implicit`: Implicit VR Little Endian, signed pixels, intercept 0;
- `oblique`: a 4 degree tilt about the left-right axis (positions along the tilted normal),
  unsigned + intercept -1024, slope 0.5 (stored values = 2 x (HU + 1024));
- `scout_and_thick`: a localizer and a 5 mm series beside the 2 mm one.

Phantom (HU): air -1000, an elliptic body cylinder at 40, two lung ellipsoids at -850, and
solid spheres (40 HU) of known diameter centred on known voxels of the LOADED volume
(index [z, y, x] into `Volume.hu`, slices foot to head). Light Gaussian noise (sigma 10 HU).

Truth (`truth.json` beside `dicom/`, never inside it) has per study: study_uid, expected
decision (selected, slices, spacing, series_uid), nodules (center_voxel, diameter_mm) and
the conventions used. Fixture: `foreign_cohort` (session), a `ForeignCohort`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = ["ForeignCohort", "foreign_cohort", "write_foreign_cohort"]

MATRIX = 160
PIXEL_MM = 2.2
SLICE_MM = 2.0
N_SLICES = 120  # 240 mm: covers the phantom's lungs with margin
LUNG_HU, BODY_HU, AIR_HU, NODULE_HU = -850, 40, -1000, 40


@dataclass(frozen=True)
class ForeignCohort:
    root: Path
    dicom: Path
    truth: list[dict[str, Any]]

    def by_study_uid(self) -> dict[str, dict[str, Any]]:
        return {t["study_uid"]: t for t in self.truth}


def _uid(rng: np.random.Generator) -> str:
    return "2.25." + str(int.from_bytes(rng.bytes(15), "big"))


def phantom(rng: np.random.Generator, nodules: list[dict[str, Any]]) -> np.ndarray:
    """int16 HU volume [D, H, W], foot to head, on a (SLICE_MM, PIXEL_MM, PIXEL_MM) grid."""
    d, h, w = N_SLICES, MATRIX, MATRIX
    z = (np.arange(d) - (d - 1) / 2)[:, None, None] * SLICE_MM
    y = (np.arange(h) - (h - 1) / 2)[None, :, None] * PIXEL_MM
    x = (np.arange(w) - (w - 1) / 2)[None, None, :] * PIXEL_MM
    vol = np.full((d, h, w), AIR_HU, dtype=np.float32)
    body = (x / 150.0) ** 2 + (y / 105.0) ** 2 <= 1.0
    vol[np.broadcast_to(body, vol.shape)] = BODY_HU
    for side in (-1.0, 1.0):
        lung = ((x - side * 68.0) / 52.0) ** 2 + (y / 72.0) ** 2 + (z / 105.0) ** 2 <= 1.0
        vol[lung] = LUNG_HU
    for n in nodules:
        kc, ic, jc = n["center_voxel"]
        r = n["diameter_mm"] / 2.0
        kk = (np.arange(d) - kc)[:, None, None] * SLICE_MM
        ii = (np.arange(h) - ic)[None, :, None] * PIXEL_MM
        jj = (np.arange(w) - jc)[None, None, :] * PIXEL_MM
        vol[kk**2 + ii**2 + jj**2 <= r * r] = NODULE_HU
    vol += rng.normal(0.0, 10.0, vol.shape).astype(np.float32)
    return np.clip(np.rint(vol), -1024, 3071).astype(np.int16)


def _nodules(rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
    """Solid spheres well inside a lung: voxel centres on the loaded volume's grid."""
    out = []
    for k in range(count):
        side = -1.0 if k % 2 == 0 else 1.0
        diameter = float(rng.choice([6.0, 9.0, 14.0, 20.0]))
        zc = int(rng.integers(-30, 31)) * SLICE_MM
        xc = side * 68.0 + float(rng.uniform(-15, 15))
        yc = float(rng.uniform(-25, 25))
        center = [
            round(zc / SLICE_MM + (N_SLICES - 1) / 2),
            round(yc / PIXEL_MM + (MATRIX - 1) / 2),
            round(xc / PIXEL_MM + (MATRIX - 1) / 2),
        ]
        out.append(
            {"center_voxel": center, "diameter_mm": diameter, "type": "solid", "hu": NODULE_HU}
        )
    return out


@dataclass(frozen=True)
class _Style:
    name: str
    head_first: bool = False
    implicit: bool = False
    signed: bool = False
    intercept: float = -1024.0
    slope: float = 1.0
    tilt_deg: float = 0.0
    thickness: float = SLICE_MM


def _slice_ds(
    style: _Style,
    *,
    study: str,
    series: str,
    sop: str,
    frame: str,
    patient: int,
    number: int,
    instance: int,
    position: tuple[float, float, float],
    orientation: tuple[float, ...],
    stored: np.ndarray,
    image_type: tuple[str, ...],
    spacing: tuple[float, float],
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if style.implicit else (ExplicitVRLittleEndian)
    )
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(image_type)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyDate = "20250304"
    ds.Modality = "CT"
    ds.Manufacturer = "Foreign Imaging Inc"
    ds.InstitutionName = f"Foreign Clinic {patient % 2}"
    ds.PatientName = f"Foreign^Patient{patient}"
    ds.PatientID = f"FOREIGN-{patient:04d}"
    ds.PatientBirthDate = f"{1950 + patient}0601"
    ds.PatientSex = "M" if patient % 2 else "F"
    ds.SliceThickness = style.thickness
    ds.KVP = 100
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = number
    ds.InstanceNumber = instance
    ds.FrameOfReferenceUID = frame
    ds.ImagePositionPatient = [round(v, 4) for v in position]
    ds.ImageOrientationPatient = [round(v, 6) for v in orientation]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.PixelSpacing = list(spacing)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if style.signed else 0
    ds.RescaleIntercept = style.intercept
    ds.RescaleSlope = style.slope
    ds.RescaleType = "HU"
    ds.PixelData = stored.tobytes()
    return ds


def _store(hu: np.ndarray, style: _Style) -> np.ndarray:
    values = (hu.astype(np.float64) - style.intercept) / style.slope
    if style.signed:
        return np.rint(values).astype(np.int16)
    return np.clip(np.rint(values), 0, 65535).astype(np.uint16)


def write_foreign_cohort(root: Path, seed: int = 20260) -> ForeignCohort:
    """Write the cohort under `root` (root/dicom flat, root/truth.json); deterministic."""
    rng = np.random.default_rng(seed)
    dicom = root / "dicom"
    dicom.mkdir(parents=True, exist_ok=True)
    styles = [
        _Style("head_first", head_first=True),
        _Style("implicit", implicit=True, signed=True, intercept=0.0),
        _Style("oblique", tilt_deg=4.0, slope=0.5),
        _Style("scout_and_thick"),
    ]
    truth = []
    for patient, style in enumerate(styles):
        study, frame = _uid(rng), _uid(rng)
        nodules = _nodules(rng, 1 + patient % 3)
        hu = phantom(rng, nodules)
        t = math.radians(style.tilt_deg)
        row = (1.0, 0.0, 0.0)
        col = (0.0, math.cos(t), -math.sin(t))
        normal = (0.0, math.sin(t), math.cos(t))  # row x col: points to the head
        origin = (-(MATRIX - 1) / 2 * PIXEL_MM, -(MATRIX - 1) / 2 * PIXEL_MM)
        series = _uid(rng)
        order = range(N_SLICES - 1, -1, -1) if style.head_first else range(N_SLICES)
        for instance, k in enumerate(order, start=1):
            d = (k - (N_SLICES - 1) / 2) * SLICE_MM  # along the normal, foot (-) to head (+)
            pos = (
                origin[0],
                origin[1] * col[1] + d * normal[1],
                origin[1] * col[2] + d * normal[2],
            )
            ds = _slice_ds(
                style,
                study=study,
                series=series,
                sop=_uid(rng),
                frame=frame,
                patient=patient,
                number=2,
                instance=instance,
                position=pos,
                orientation=row + col,
                stored=_store(hu[k], style),
                image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
                spacing=(PIXEL_MM, PIXEL_MM),
            )
            _save(ds, dicom, rng, style)
        if style.name == "scout_and_thick":
            _write_scout_and_thick(dicom, rng, style, study, frame, patient, hu)
        truth.append(
            {
                "name": style.name,
                "study_uid": study,
                "conventions": _conventions(style),
                "expected": {
                    "selected": True,
                    "reason": None,
                    "series_uid": series,
                    "slices": N_SLICES,
                    "spacing": [SLICE_MM, PIXEL_MM, PIXEL_MM],
                },
                "lungs_hu": LUNG_HU,
                "nodules": nodules,
            }
        )
    (root / "truth.json").write_text(json.dumps(truth, indent=1))
    return ForeignCohort(root, dicom, truth)


def _write_scout_and_thick(
    dicom: Path,
    rng: np.random.Generator,
    style: _Style,
    study: str,
    frame: str,
    patient: int,
    hu: np.ndarray,
) -> None:
    scout = np.clip(hu.mean(axis=1), -1024, 3071)[::-1].astype(np.int16)  # coronal projection
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    top = (N_SLICES - 1) / 2 * SLICE_MM
    ds = _slice_ds(
        style,
        study=study,
        series=_uid(rng),
        sop=_uid(rng),
        frame=frame,
        patient=patient,
        number=1,
        instance=1,
        position=(-(MATRIX - 1) / 2 * PIXEL_MM, 0.0, top),
        orientation=coronal,
        stored=_store(scout, style),
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        spacing=(SLICE_MM, PIXEL_MM),
    )
    _save(ds, dicom, rng, style)
    thick = _Style("thick", thickness=5.0)
    series = _uid(rng)
    first = -(N_SLICES - 1) / 2 * SLICE_MM
    for instance in range(1, int(N_SLICES * SLICE_MM / 5.0) + 1):
        d = first + (instance - 1) * 5.0
        slab = hu[min(N_SLICES - 1, round((d - first) / SLICE_MM))]
        origin = -(MATRIX - 1) / 2 * PIXEL_MM
        ds = _slice_ds(
            thick,
            study=study,
            series=series,
            sop=_uid(rng),
            frame=frame,
            patient=patient,
            number=3,
            instance=instance,
            position=(origin, origin, d),
            orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            stored=_store(slab, thick),
            image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
            spacing=(PIXEL_MM, PIXEL_MM),
        )
        _save(ds, dicom, rng, thick)


def _save(ds: Dataset, dicom: Path, rng: np.random.Generator, style: _Style) -> None:
    name = rng.bytes(8).hex()
    ds.save_as(dicom / name, enforce_file_format=True)


def _conventions(style: _Style) -> list[str]:
    out = ["flat folder, random names, no extension"]
    if style.head_first:
        out.append("stored head to foot (z decreasing with instance number)")
    if style.implicit:
        out.append("implicit VR little endian")
    out.append("signed pixels" if style.signed else "unsigned pixels")
    out.append(f"rescale slope {style.slope:g} intercept {style.intercept:g}")
    if style.tilt_deg:
        out.append(f"oblique: {style.tilt_deg:g} deg tilt, positions along the normal")
    if style.name == "scout_and_thick":
        out.append("plus a localizer and a 5 mm series")
    return out


@pytest.fixture(scope="session")
def foreign_cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignCohort]:
    """The foreign cohort, written once per test session."""
    yield write_foreign_cohort(tmp_path_factory.mktemp("foreign-cohort"))
