"""A load-test source: small, valid CT studies generated on the fly (`synthetic://N?seed=S`).

Nothing is read from disk or the network. Study `i` of seed `S` is always the same study: one
axial CT series of `SLICES` slices of `MATRIX` x `MATRIX` pixels (2.5 mm apart, 200 mm from
foot to head: the least the series selector accepts), with a fake person of its own (name,
id, birth date, institution: identifiers ingest must drop) and pixels from a generator
seeded by (S, i, slice). Everything downstream is the real path: discovery, series
selection, minimisation and pseudonyms, sealing, volume loading from full pydicom datasets
(`read_instances` builds each slice's dataset, pixel data included, as a PACS would send it).

`scan` derives each slice's header from the study's first dataset (`header_from_dataset`,
as for any dataset) and sets the four per-slice values, so discovery costs about 10 us a
slice (a real source's header reading, which this stands in for, about 1 ms); the test
checks that this is exactly the header of the dataset `read_instances` returns. Locators
are "STUDY/SLICE" indices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from jobs.ingest.dicom.headers import FileRejection, SliceHeader, header_from_dataset
from kernel.errors import BadInput, PermanentError

__all__ = ["MATRIX", "SLICES", "SyntheticSource", "SyntheticStudy"]

SLICES = 80  # x 2.5 mm = 200 mm: selection's minimum lung coverage
MATRIX = 32
SPACING_MM = 2.5
PIXEL_MM = 10.0  # 32 x 10 mm: a chest-sized field of view
INTERCEPT = -1024
CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
_INSTITUTIONS = ("Synthetic General Hospital", "Synthetic Chest Clinic",
                 "Synthetic Royal Infirmary")
_EPOCH = date(2026, 1, 5)


@dataclass(frozen=True)
class SyntheticStudy:
    """The identities of one generated study (PHI of a fake person: memory only)."""

    index: int
    patient_id: str
    patient_name: str
    study_uid: str
    series_uid: str
    frame_uid: str
    birth_date: str
    study_date: str
    sex: str
    institution: str


def _uid_text(*parts: object) -> str:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:15], 'big')}"


def _uid(*parts: object) -> UID:
    return UID(_uid_text(*parts))


class SyntheticSource:
    """`studies` generated studies of seed `seed` (see the module doc)."""

    def __init__(self, studies: int, seed: int = 0) -> None:
        if studies < 1:
            raise BadInput(f"a synthetic source needs at least 1 study, got {studies}")
        self.studies = studies
        self.seed = seed

    @property
    def label(self) -> str:
        return f"synthetic-{self.seed}"

    def __repr__(self) -> str:
        return f"SyntheticSource(studies={self.studies}, seed={self.seed})"

    def study(self, index: int) -> SyntheticStudy:
        """Study `index`'s identities, the same for the same (seed, index)."""
        s = self.seed
        day = _EPOCH + timedelta(days=index % 360)
        birth = date(1950 + index % 25, 1 + index % 12, 1 + index % 28)
        return SyntheticStudy(
            index=index,
            patient_id=f"SYN{s}-{index:08d}",
            patient_name=f"Synthetic^Person{index}^{s}",
            study_uid=_uid("study", s, index),
            series_uid=_uid("series", s, index),
            frame_uid=_uid("frame", s, index),
            birth_date=birth.strftime("%Y%m%d"),
            study_date=day.strftime("%Y%m%d"),
            sex="FM"[index % 2],
            institution=_INSTITUTIONS[index % len(_INSTITUTIONS)],
        )

    def all_studies(self) -> Iterator[SyntheticStudy]:
        """Every study's identities, in index order."""
        return (self.study(i) for i in range(self.studies))

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        for i in range(self.studies):
            study = self.study(i)
            first = header_from_dataset(self._dataset(study, 0), f"{i}/0",
                                        ExplicitVRLittleEndian, has_pixel_data=True)
            assert isinstance(first, SliceHeader)  # the UIDs are always there
            values = [getattr(first, name) for name in _FIELDS]
            for k in range(SLICES):  # positionally: dataclasses.replace costs twice as much
                values[_LOCATOR], values[_SOP] = f"{i}/{k}", _uid_text("sop", self.seed, i, k)
                values[_POSITION], values[_INSTANCE] = _position(k), k + 1
                yield SliceHeader(*values)

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        templates: dict[int, Dataset] = {}  # a study's constant elements, built once
        for j, h in enumerate(headers):
            i, k = self._indices(h.locator)
            if i not in templates:
                templates[i] = self._dataset(self.study(i), 0)
            yield j, self._slice(templates[i], i, k)

    def _slice(self, template: Dataset, i: int, k: int) -> Dataset:
        """Slice `k` of study `i`: the study's elements (shared, never changed) and the
        slice's own, pixel data included."""
        ds = Dataset(dict(template))
        ds.file_meta = FileMetaDataset(dict(template.file_meta))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid("sop", self.seed, i, k)
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{v:g}" for v in _position(k)]
        ds.PixelData = self.pixels(i, k).tobytes()
        return ds

    def pixels(self, index: int, k: int) -> npt.NDArray[np.uint16]:
        """Slice `k` of study `index` as stored (uint16, HU + 1024): air outside a body
        disc, soft tissue and darker lungs inside, noise from the (seed, study, slice)
        generator, so each study's volume is its own."""
        rng = np.random.default_rng((self.seed, index, k))
        hu = np.full((MATRIX, MATRIX), -1000, dtype=np.int16)
        hu[_BODY] = 40
        hu[_LUNGS] = -850
        hu += rng.integers(-20, 21, size=(MATRIX, MATRIX), dtype=np.int16)
        return (hu.astype(np.int32) - INTERCEPT).clip(0, 4095).astype(np.uint16)

    def _indices(self, locator: str) -> tuple[int, int]:
        try:
            i_text, _, k_text = locator.partition("/")
            i, k = int(i_text), int(k_text)
        except ValueError:
            raise PermanentError("a synthetic locator is not STUDY/SLICE") from None
        if not (0 <= i < self.studies and 0 <= k < SLICES):
            raise PermanentError("a synthetic locator names no study of this source")
        return i, k

    def _dataset(self, study: SyntheticStudy, k: int) -> Dataset:
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPInstanceUID = _uid("sop", self.seed, study.index, k)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyDate = study.study_date
        ds.AccessionNumber = f"ACC{self.seed}{study.index:08d}"
        ds.Modality = "CT"
        ds.Manufacturer = "LUNGSCREEN LOADTEST"
        ds.InstitutionName = study.institution
        ds.PatientName = study.patient_name
        ds.PatientID = study.patient_id
        ds.PatientBirthDate = study.birth_date
        ds.PatientSex = study.sex
        ds.PatientAge = f"{int(study.study_date[:4]) - int(study.birth_date[:4]):03d}Y"
        ds.SliceThickness = "2.5"
        ds.KVP = "120"
        ds.Exposure = 20
        ds.ConvolutionKernel = "B"
        ds.ClinicalTrialTimePointID = "1"
        ds.StudyInstanceUID = study.study_uid
        ds.SeriesInstanceUID = study.series_uid
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{v:g}" for v in _position(k)]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.FrameOfReferenceUID = study.frame_uid
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = MATRIX
        ds.PixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = str(INTERCEPT)
        ds.RescaleSlope = "1"
        return ds


def _position(k: int) -> tuple[float, float, float]:
    half = MATRIX * PIXEL_MM / 2
    return (-half, -half, -300.0 + k * SPACING_MM)


_FIELDS = tuple(f.name for f in fields(SliceHeader))
_LOCATOR, _SOP, _POSITION, _INSTANCE = (
    _FIELDS.index(n) for n in ("locator", "sop_uid", "position", "instance_number"))
_YY, _XX = np.mgrid[:MATRIX, :MATRIX] - (MATRIX - 1) / 2
_BODY = _YY**2 + _XX**2 <= (MATRIX * 0.45) ** 2
_LUNGS = _BODY & (np.abs(_XX) >= MATRIX * 0.08) & (_YY**2 + _XX**2 <= (MATRIX * 0.38) ** 2)
