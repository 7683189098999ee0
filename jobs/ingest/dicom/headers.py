"""Read one DICOM file's header, never its pixel data, into a slim `SliceHeader`.

`read_header` never raises and never hangs: any input ends as a `SliceHeader` or a
`FileRejection` with a stable `FileReason`. Time and memory are bounded by parsing from an
in-memory prefix of the file (declared lengths larger than the bytes present cannot make
the reader allocate or seek beyond them) and by a cap on how much of a file is read for its
header. The Pixel Data element's declared length is checked against the file size, so a file
cut off inside its pixels is rejected here, before any volume is loaded.

Headers hold identifiers (UIDs, patient id, institution) in memory only, for grouping,
pseudonymisation and opt-out; they are excluded from `repr` and never written anywhere.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag, Tag

from jobs.ingest.dicom.deadline import ParseTimeout, cpu_deadline
from jobs.ingest.dicom.deflate import DEFLATED, inflates_too_far
from kernel.reasons import FileReason

__all__ = [
    "HEADER_KEYWORDS",
    "FileRejection",
    "SliceHeader",
    "header_from_dataset",
    "read_header",
    "read_header_bytes",
]

# Parse from the first PREFIX_BYTES; only a header longer than that (rare) reads more,
# up to MAX_HEADER_BYTES. Pixel data after the header is never read.
PREFIX_BYTES = 1 << 20
MAX_HEADER_BYTES = 64 << 20
# CPU time one file's header may take (a CT header parses in well under 10 ms).
CPU_SECONDS = 2.0
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
UNDEFINED = 0xFFFFFFFF

HEADER_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "FrameOfReferenceUID",
    "PatientID",
    "Modality",
    "ImageType",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "PixelSpacing",
    "SliceThickness",
    "Rows",
    "Columns",
    "BitsAllocated",
    "SamplesPerPixel",
    "NumberOfFrames",
    "RescaleSlope",
    "RescaleIntercept",
    "PatientAge",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "InstitutionName",
    "ClinicalTrialTimePointID",  # the screening round ("1", "2", ...) where the archive says
    "KVP",
    "Exposure",
    "ConvolutionKernel",
    "Manufacturer",
    "SeriesNumber",
    "InstanceNumber",
    "BurnedInAnnotation",
    "PhotometricInterpretation",
)
_TAGS: list[BaseTag | int] = [Tag(k) for k in HEADER_KEYWORDS]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SliceHeader:
    """What selection and minimisation need from one image file, and nothing more.

    `locator` says where the source finds the instance again (a path relative to a folder
    source, or a DICOMweb instance key); like the identifiers it stays in memory.
    """

    locator: str = field(repr=False)
    study_uid: str = field(repr=False)
    series_uid: str = field(repr=False)
    sop_uid: str = field(repr=False)
    patient_id: str = field(repr=False)
    institution: str | None = field(repr=False)
    patient_birth_date: str | None = field(repr=False)
    study_date: str | None = field(repr=False)
    frame_of_reference_uid: str | None = field(repr=False)
    modality: str
    sop_class_uid: str
    image_type: tuple[str, ...]
    orientation: tuple[float, ...] | None
    position: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slice_thickness: float | None
    rows: int
    columns: int
    bits_allocated: int
    samples_per_pixel: int
    number_of_frames: int
    rescale_slope: float
    rescale_intercept: float
    transfer_syntax: str
    has_pixel_data: bool
    patient_age: str | None
    patient_sex: str | None
    kvp: float | None
    exposure: float | None
    kernel: str | None
    manufacturer: str | None
    series_number: int | None
    instance_number: int | None
    burned_in_annotation: str | None
    photometric: str | None
    time_point: str | None = field(default=None, repr=False)  # ClinicalTrialTimePointID

    @property
    def is_localizer(self) -> bool:
        """True for scout / localizer images (ImageType value 3 is LOCALIZER)."""
        return "LOCALIZER" in self.image_type


@dataclass(frozen=True, slots=True)
class FileRejection:
    """A file that yields no usable slice header, with a stable reason.

    `detail` is a fixed, PHI-free explanation. `study_uid`/`series_uid` are set when the
    header was readable (e.g. pixel data cut short), so the study can account for it.
    """

    locator: str = field(repr=False)
    reason: FileReason
    detail: str
    study_uid: str | None = field(default=None, repr=False)
    series_uid: str | None = field(default=None, repr=False)


def read_header(
    path: Path, locator: str, *, cpu_seconds: float = CPU_SECONDS
) -> SliceHeader | FileRejection:
    """Read the header of the file at `path`; never raises, never blocks on a special file
    (opened non-blocking, without following a final symlink, and checked to be regular).
    Parsing gets `cpu_seconds` of CPU time (in a main thread) before it is abandoned as
    `FileReason.TIMEOUT`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return FileRejection(locator, FileReason.UNREADABLE_FILE, "not a regular file")
        size = info.st_size
        with os.fdopen(fd, "rb") as fh, cpu_deadline(cpu_seconds):
            prefix = fh.read(PREFIX_BYTES)
            result = _parse(prefix, size, locator)
            if result is _NEED_MORE:
                fh.seek(0)
                result = _parse(fh.read(MAX_HEADER_BYTES), size, locator, final=True)
            if isinstance(result, _PixelCheck):
                return result.finish(fh, size)
    except ParseTimeout:
        return FileRejection(
            locator, FileReason.TIMEOUT, f"header not parsed within {cpu_seconds:g} s of CPU"
        )
    except OSError as exc:
        return FileRejection(locator, FileReason.UNREADABLE_FILE, f"cannot read: {exc.strerror}")
    assert isinstance(result, SliceHeader | FileRejection)
    return result


def read_header_bytes(data: bytes, locator: str) -> SliceHeader | FileRejection:
    """Read the header of an instance held in memory (e.g. retrieved by WADO-RS)."""
    result = _parse(data, len(data), locator, final=True)
    if isinstance(result, _PixelCheck):
        return result.finish(io.BytesIO(data), len(data))
    assert isinstance(result, SliceHeader | FileRejection)
    return result


class _NeedMore:
    pass


_NEED_MORE = _NeedMore()


@dataclass(frozen=True)
class _PixelCheck:
    """A parsed header whose Pixel Data element still has to be checked against the file."""

    header: SliceHeader
    value_start: int
    length: int

    def finish(self, fh: Any, size: int) -> SliceHeader | FileRejection:
        h = self.header
        if self.length != UNDEFINED:
            expected = h.rows * h.columns * h.samples_per_pixel * h.number_of_frames
            expected *= max(1, h.bits_allocated // 8)
            if h.photometric in {"YBR_FULL_422", "YBR_PARTIAL_422"}:
                expected = expected * 2 // 3  # chroma subsampled: 2 samples per pixel
            if self.value_start + self.length > size:
                return _cut(h, "pixel data runs past the end of the file (truncated)")
            if h.bits_allocated >= 8 and self.length < expected:
                return _cut(h, "pixel data shorter than Rows x Columns x frames")
            return h
        # Encapsulated: fragments end with a sequence delimiter (FFFE,E0DD), possibly
        # followed by trailing padding; a file cut inside the fragments has none.
        fh.seek(max(self.value_start, size - 65536))
        if b"\xfe\xff\xdd\xe0" not in fh.read(65536):
            return _cut(h, "encapsulated pixel data has no end delimiter (truncated)")
        return h


def _cut(h: SliceHeader, detail: str) -> FileRejection:
    return FileRejection(h.locator, FileReason.UNREADABLE_FILE, detail, h.study_uid, h.series_uid)


def _parse(
    data: bytes, size: int, locator: str, *, final: bool = False
) -> SliceHeader | FileRejection | _PixelCheck | _NeedMore:
    complete = final or len(data) >= size
    found: list[tuple[int, str | None, int]] = []

    def at_pixels(tag: BaseTag, vr: str | None, length: int) -> bool:
        if int(tag) in PIXEL_TAGS:
            found.append((int(tag), vr, length))
            return True
        return False

    if len(data) < 132 or data[128:132] != b"DICM":
        return FileRejection(locator, FileReason.NOT_DICOM, "no DICM marker at byte 128")
    fp = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if inflates_too_far(data):
                return FileRejection(
                    locator, FileReason.UNREADABLE_FILE, "deflated dataset too large or corrupt"
                )
            ds = read_partial(fp, at_pixels, force=False, specific_tags=list(_TAGS))
            syntax = str(ds.file_meta.get("TransferSyntaxUID", "") or "")
            pixel_start = fp.tell()
            header = header_from_dataset(ds, locator, syntax, has_pixel_data=bool(found))
    except RecursionError:
        return FileRejection(locator, FileReason.UNREADABLE_FILE, "nesting too deep")
    except MemoryError:
        return FileRejection(locator, FileReason.UNREADABLE_FILE, "declared lengths too large")
    except Exception as exc:  # every parser failure is a rejection, never a crash
        if not complete:
            return _NEED_MORE
        return FileRejection(
            locator, FileReason.UNREADABLE_FILE, f"header unreadable ({type(exc).__name__})"
        )
    if isinstance(header, FileRejection):
        if not complete and header.reason == FileReason.MISSING_STUDY_UID:
            return _NEED_MORE
        return header
    if not found:
        return _NEED_MORE if not complete else header
    if syntax == DEFLATED:
        return header  # positions refer to the inflated stream; decoding checks it later
    _tag, vr, length = found[0]
    long_vr = vr in {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "UT", "SQ", "UC", "UR"}
    implicit = bool(ds.original_encoding[0])
    header_len = 12 if long_vr and not implicit else 8
    return _PixelCheck(header, pixel_start + header_len, length)


def header_from_dataset(
    ds: Dataset, locator: str, transfer_syntax: str, *, has_pixel_data: bool
) -> SliceHeader | FileRejection:
    """Build a `SliceHeader` from a (partial) dataset; every value is read defensively."""
    study = _str(ds, "StudyInstanceUID")
    series = _str(ds, "SeriesInstanceUID")
    sop = _str(ds, "SOPInstanceUID")
    if not study or not series or not sop:
        missing = (
            "StudyInstanceUID"
            if not study
            else "SeriesInstanceUID"
            if not series
            else ("SOPInstanceUID")
        )
        return FileRejection(locator, FileReason.MISSING_STUDY_UID, f"no {missing}")
    frames = _int(ds, "NumberOfFrames")
    return SliceHeader(
        locator=locator,
        study_uid=sys.intern(study),
        series_uid=sys.intern(series),
        sop_uid=sop,
        patient_id=sys.intern(_str(ds, "PatientID") or ""),
        institution=_share(_str(ds, "InstitutionName")),
        patient_birth_date=_share(_str(ds, "PatientBirthDate")),
        study_date=_share(_str(ds, "StudyDate")),
        frame_of_reference_uid=_share(_str(ds, "FrameOfReferenceUID")),
        modality=sys.intern((_str(ds, "Modality") or "").upper()),
        sop_class_uid=sys.intern(_str(ds, "SOPClassUID") or ""),
        image_type=_share(tuple(v.strip().upper() for v in _strs(ds, "ImageType"))),
        orientation=_share(_floats(ds, "ImageOrientationPatient", 6)),
        position=_floats(ds, "ImagePositionPatient", 3),
        pixel_spacing=_share(_floats(ds, "PixelSpacing", 2)),
        slice_thickness=_share(_float(ds, "SliceThickness")),
        rows=_int(ds, "Rows") or 0,
        columns=_int(ds, "Columns") or 0,
        bits_allocated=_int(ds, "BitsAllocated") or 0,
        samples_per_pixel=_int(ds, "SamplesPerPixel") or 1,
        number_of_frames=frames if frames and frames > 0 else 1,
        rescale_slope=_share(_float(ds, "RescaleSlope") or 1.0),
        rescale_intercept=_share(_float(ds, "RescaleIntercept") or 0.0),
        transfer_syntax=_share(transfer_syntax),
        has_pixel_data=has_pixel_data,
        patient_age=_share(_str(ds, "PatientAge")),
        patient_sex=_share(_str(ds, "PatientSex")),
        kvp=_share(_float(ds, "KVP")),
        exposure=_share(_float(ds, "Exposure")),
        kernel=_share(_joined(ds, "ConvolutionKernel")),
        manufacturer=_share(_str(ds, "Manufacturer")),
        series_number=_int(ds, "SeriesNumber"),
        instance_number=_int(ds, "InstanceNumber"),
        burned_in_annotation=_share(_str(ds, "BurnedInAnnotation")),
        photometric=_share((_str(ds, "PhotometricInterpretation") or "").upper() or None),
        time_point=_share(_str(ds, "ClinicalTrialTimePointID")),
    )


# Values of these keywords are ASCII text (UI, CS, DS, IS, AS, DA): split raw bytes directly,
# which is several times cheaper than pydicom's conversion and never needs a character set.
_ASCII_KEYWORDS = frozenset(
    {
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "FrameOfReferenceUID",
        "Modality",
        "ImageType",
        "ImageOrientationPatient",
        "ImagePositionPatient",
        "PixelSpacing",
        "SliceThickness",
        "NumberOfFrames",
        "RescaleSlope",
        "RescaleIntercept",
        "PatientAge",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "KVP",
        "SeriesNumber",
        "InstanceNumber",
        "BurnedInAnnotation",
        "PhotometricInterpretation",
    }
)
_KEYWORD_TAG = {k: Tag(k) for k in HEADER_KEYWORDS}


# Values repeated on every slice of a series (dates, orientation, kernel, ...) are shared
# through this pool, so a study's headers hold one copy of each: about half the memory.
_POOL: dict[tuple[type, object], Any] = {}
_POOL_MAX = 1 << 16


def _share(value: _T) -> _T:
    if value is None:
        return value
    if len(_POOL) >= _POOL_MAX:
        _POOL.clear()
    key = (type(value), value)
    shared: _T = _POOL.setdefault(key, value)
    return shared


def _get(ds: Dataset, keyword: str) -> Any:
    try:
        if keyword in _ASCII_KEYWORDS:
            raw: object = ds.get_item(_KEYWORD_TAG[keyword])
            if isinstance(raw, RawDataElement) and raw.VR not in ("SQ", "UN"):
                if raw.value is None:
                    return None
                text = raw.value.decode("latin-1").strip(" \x00")
                if not text:
                    return None
                parts = [p.strip(" \x00") for p in text.split("\\")]
                return parts if len(parts) > 1 else parts[0]
        return ds.get(keyword)
    except Exception:
        return None


def _safe(fn: Callable[[Any], Any], value: Any) -> Any:
    try:
        return fn(value)
    except Exception:
        return None


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes | int | float):
        return [value]
    try:
        return list(value)
    except Exception:
        return [value]


def _str(ds: Dataset, keyword: str) -> str | None:
    vals = _values(_get(ds, keyword))
    if not vals:
        return None
    s = _safe(str, vals[0])
    if not isinstance(s, str):
        return None
    s = s.strip().strip("\x00").strip()
    return s or None


def _strs(ds: Dataset, keyword: str) -> list[str]:
    out = [_safe(str, v) for v in _values(_get(ds, keyword))]
    return [s for s in out if isinstance(s, str)]


def _joined(ds: Dataset, keyword: str) -> str | None:
    parts = [s.strip() for s in _strs(ds, keyword) if s.strip()]
    return "\\".join(parts) or None


def _float(ds: Dataset, keyword: str) -> float | None:
    vals = _values(_get(ds, keyword))
    if not vals:
        return None
    f = _safe(float, vals[0])
    if f is None or f != f or f in (float("inf"), float("-inf")):
        return None
    return float(f)


def _floats(ds: Dataset, keyword: str, n: int) -> tuple[float, ...] | None:
    vals = _values(_get(ds, keyword))
    if len(vals) != n:
        return None
    out = [_safe(float, v) for v in vals]
    if any(v is None or v != v or abs(v) == float("inf") for v in out):
        return None
    return tuple(float(v) for v in out)


def _int(ds: Dataset, keyword: str) -> int | None:
    vals = _values(_get(ds, keyword))
    if not vals:
        return None
    f = _safe(float, vals[0])
    if f is None or f != f or abs(f) > 2**31:
        return None
    return int(f)
