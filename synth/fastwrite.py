"""Part 10 files at disk speed: a series' constant elements are encoded once.

pydicom spends about 5 ms writing the ~80 elements of a CT header; in a series only a few
change from slice to slice. `SeriesEncoder` encodes the constant elements once, in chunks
between the per-slice tags, and per slice encodes only the per-slice elements, the file
meta group and the pixel data element, then joins the bytes in tag order. The result is
what `Dataset.save_as(enforce_file_format=True)` writes (a test compares them).
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Sequence

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID, ImplicitVRLittleEndian

__all__ = ["PER_SLICE_TAGS", "SeriesEncoder"]

PIXEL_DATA = Tag(0x7FE0, 0x0010)
# SOPInstanceUID, InstanceNumber, ImagePositionPatient, SliceLocation
PER_SLICE_TAGS = (Tag(0x0008, 0x0018), Tag(0x0020, 0x0013), Tag(0x0020, 0x0032),
                  Tag(0x0020, 0x1041))
_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


_VR = dict(zip(PER_SLICE_TAGS, ("UI", "IS", "DS", "DS"), strict=True))


def _short(tag: BaseTag, vr: str, text: str, implicit: bool) -> bytes:
    """A short text element (UI, IS, DS), padded to even length as DICOM requires."""
    value = text.encode("ascii")
    if len(value) % 2:
        value += b"\x00" if vr == "UI" else b" "
    if implicit:
        return struct.pack("<HHI", tag.group, tag.element, len(value)) + value
    return struct.pack("<HH2sH", tag.group, tag.element, vr.encode(), len(value)) + value


def _encode(elements: Sequence[DataElement], implicit: bool) -> bytes:
    ds = Dataset()
    for e in elements:
        ds.add(e)
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


class SeriesEncoder:
    """Encodes the files of one series whose constant elements are in `base`."""

    def __init__(self, base: Dataset, syntax: UID) -> None:
        self.syntax = syntax
        self.implicit = syntax == ImplicitVRLittleEndian
        self.encapsulated = syntax.is_compressed
        meta = FileMetaDataset()
        for e in base.file_meta:
            meta.add(e)
        meta.TransferSyntaxUID = syntax
        meta.MediaStorageSOPInstanceUID = UID("1.2")  # stands in for each file's own
        fp = DicomBytesIO()
        write_file_meta_info(fp, meta, enforce_standard=True)
        encoded = fp.getvalue()
        # split around (0002,0003): its bytes and the group length change per file
        mark = struct.pack("<HH2sH", 0x0002, 0x0003, b"UI", 4) + b"1.2\x00"
        at = encoded.index(mark)
        self.meta_head = encoded[12:at]  # after (0002,0000) UL
        self.meta_tail = encoded[at + len(mark):]
        chunks: list[list[DataElement]] = [[] for _ in range(len(PER_SLICE_TAGS) + 1)]
        for e in base:
            if e.tag in PER_SLICE_TAGS or e.tag == PIXEL_DATA:
                continue
            if e.tag > PIXEL_DATA:
                raise ValueError(f"element {e.tag} after Pixel Data is not supported")
            chunks[bisect_left(PER_SLICE_TAGS, e.tag)].append(e)
        self.chunks = [_encode(c, self.implicit) for c in chunks]

    def file_bytes(self, per_slice: dict[BaseTag, str], pixels: bytes) -> bytes:
        """One whole file: `per_slice` holds the values of PER_SLICE_TAGS (any subset; the
        SOP Instance UID always), as DICOM text (multiple values joined with a backslash);
        `pixels` is native pixel data, or one compressed frame for an encapsulated syntax.
        """
        sop = _short(Tag(0x0002, 0x0003), "UI", per_slice[PER_SLICE_TAGS[0]], False)
        group = len(self.meta_head) + len(sop) + len(self.meta_tail)
        parts = [b"\x00" * 128, b"DICM", struct.pack("<HH2sHI", 2, 0, b"UL", 4, group),
                 self.meta_head, sop, self.meta_tail, self.chunks[0]]
        for tag, chunk in zip(PER_SLICE_TAGS, self.chunks[1:], strict=True):
            if tag in per_slice:
                parts.append(_short(tag, _VR[tag], per_slice[tag], self.implicit))
            parts.append(chunk)
        if self.encapsulated:
            parts.append(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF))
            parts.append(encapsulate([pixels]))
            parts.append(_DELIMITER)
        elif self.implicit:
            parts.append(struct.pack("<HHI", 0x7FE0, 0x0010, len(pixels)))
            parts.append(pixels)
        else:
            parts.append(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, len(pixels)))
            parts.append(pixels)
        return b"".join(parts)
