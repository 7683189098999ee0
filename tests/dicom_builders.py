"""Hand-built DICOM for tests: one CT slice or a whole series, written with pydicom only.

Independent of synth/ on purpose: selection and loading are tested on data the
project's own generator did not write.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def ct_slice(
    *,
    study_uid: str,
    series_uid: str,
    z: float,
    pixels: np.ndarray | None = None,
    position: Sequence[float] | None = None,
    orientation: Sequence[float] | None = AXIAL,
    spacing: tuple[float, float] = (0.7, 0.7),
    thickness: float | None = 1.25,
    modality: str = "CT",
    sop_class: str = CTImageStorage,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    slope: float = 1.0,
    intercept: float = -1024.0,
    unsigned: bool = True,
    patient_id: str = "PID-0001",
    institution: str = "General Hospital",
    instance: int = 1,
    implicit: bool = False,
    sop_uid: str | None = None,
) -> Dataset:
    """One CT Image Storage slice; `pixels` are stored values (before rescale)."""
    if pixels is None:
        pixels = np.full((16, 16), 1024, dtype=np.uint16 if unsigned else np.int16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID = sop_class
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study_uid])
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.PatientBirthDate = "19550101"
    ds.PatientSex = "F"
    ds.StudyDate = "20260115"
    ds.InstitutionName = institution
    ds.Modality = modality
    ds.ImageType = list(image_type)
    ds.SeriesNumber = 2
    ds.InstanceNumber = instance
    if orientation is not None:
        ds.ImageOrientationPatient = [float(v) for v in orientation]
    pos = position if position is not None else (-5.0, -5.0, z)
    if pos is not None and position != ():
        ds.ImagePositionPatient = [float(v) for v in pos]
    ds.PixelSpacing = list(spacing)
    if thickness is not None:
        ds.SliceThickness = thickness
    ds.KVP = 120
    ds.Exposure = 40
    ds.ConvolutionKernel = "B30f"
    ds.Manufacturer = "TestCo"
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0 if pixels.dtype == np.uint16 else 1
    ds.PixelData = pixels.tobytes()
    return ds


def write_series(
    root: Path,
    zs: Sequence[float],
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    prefix: str = "s",
    **kwargs: object,
) -> list[Path]:
    """Write one file per z into `root`; returns the paths written."""
    root.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    paths = []
    for i, z in enumerate(zs):
        ds = ct_slice(study_uid=study_uid, series_uid=series_uid, z=z, instance=i + 1, **kwargs)
        path = root / f"{prefix}{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
