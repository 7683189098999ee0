"""The guard against deflate bombs: a Deflated Explicit VR Little Endian file whose dataset
would inflate past MAX_INFLATED_BYTES is refused before pydicom inflates it (it inflates
the whole dataset at once, whatever its size)."""

from __future__ import annotations

import io
import zlib

from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset, read_preamble
from pydicom.tag import BaseTag

__all__ = ["DEFLATED", "MAX_INFLATED_BYTES", "inflates_too_far"]

DEFLATED = "1.2.840.10008.1.2.1.99"
# A deflated dataset may expand to at most this many bytes.
MAX_INFLATED_BYTES = 256 << 20


def inflates_too_far(data: bytes) -> bool:
    """Whether `data` (a Part 10 file, from its preamble) is deflated and its dataset is
    corrupt or inflates past MAX_INFLATED_BYTES. A file that cannot be parsed raises, as
    pydicom does."""
    if DEFLATED.encode() not in data[132:8192]:  # meta names the syntax; check it properly
        return False
    fp = io.BytesIO(data)
    read_preamble(fp, False)
    meta = _file_meta(fp)
    if str(meta.get("TransferSyntaxUID", "")) != DEFLATED:
        return False
    return not _inflates_within_bound(data[fp.tell() :])


def _file_meta(fp: io.BytesIO) -> Dataset:
    """The File Meta group (0002,eeee) at `fp`, which is left at the dataset after it: Explicit
    VR Little Endian as Part 10 has it, else Implicit VR as some writers have it (pydicom's
    own reader falls back the same way, so this check sees the transfer syntax that
    `read_partial` will)."""
    start = fp.tell()
    meta = read_dataset(fp, is_implicit_VR=False, is_little_endian=True, stop_when=_after_meta)
    try:
        next(iter(meta), None)  # values are converted when read: an unknown VR raises here
    except NotImplementedError:
        fp.seek(start)
        meta = read_dataset(fp, is_implicit_VR=True, is_little_endian=True, stop_when=_after_meta)
    return meta


def _after_meta(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag >> 16 != 2


def _inflates_within_bound(data: bytes) -> bool:
    try:
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        d.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error:
        return False
    return not d.unconsumed_tail
