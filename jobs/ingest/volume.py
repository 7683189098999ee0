"""Load a selected series as a Hounsfield-unit volume: int16 [D, H, W], foot to head.

Slices are placed in the order selection computed from ImagePositionPatient projected on
the plane normal (never InstanceNumber or file order). Each slice's RescaleSlope /
RescaleIntercept is applied and the result rounded and clipped to int16. Compressed transfer
syntaxes are decoded by pydicom's pixel decoders (pylibjpeg, openjpeg, rle, pyjpegls); a
missing decoder is a `DecodeFailed` naming the syntax and the package to install.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import UID

from jobs.ingest.selection import Selected
from jobs.ingest.sources.base import Source
from kernel.errors import PermanentError
from kernel.reasons import Reason

__all__ = ["DecodeFailed", "Volume", "decoder_hint", "load_volume", "to_hu"]

INT16_MIN, INT16_MAX = -32768, 32767

_HINTS: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg and pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.51": "pylibjpeg and pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "pylibjpeg and pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg and pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pyjpegls",
    "1.2.840.10008.1.2.4.81": "pyjpegls",
    "1.2.840.10008.1.2.4.90": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.91": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.201": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg and pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg and pylibjpeg-rle",
}


class DecodeFailed(PermanentError):
    """A slice's pixel data cannot be decoded; the study is quarantined `decode_failed`."""

    reason = Reason.DECODE_FAILED


@dataclass(frozen=True, eq=False)
class Volume:
    """`hu`: int16 [D, H, W] Hounsfield units, slices foot to head; `spacing`: (z, y, x) mm."""

    hu: npt.NDArray[np.int16]
    spacing: tuple[float, float, float]

    @property
    def nbytes(self) -> int:
        return int(self.hu.nbytes)


def decoder_hint(transfer_syntax: str) -> str:
    """What to install (or do) to decode `transfer_syntax`; PHI-free."""
    name = UID(transfer_syntax).name if transfer_syntax else "unknown"
    package = _HINTS.get(transfer_syntax)
    if package:
        return f"transfer syntax {name} ({transfer_syntax}) needs {package}: pip install it"
    return (
        f"no installed decoder handles transfer syntax {name} ({transfer_syntax}); "
        "ask the archive to send Explicit VR Little Endian or install a matching pydicom plugin"
    )


def load_volume(source: Source, selected: Selected) -> Volume:
    """Read, decode and stack the selected series from `source`.

    Raises DecodeFailed when a slice cannot be decoded or has another size than the rest,
    PermanentError when an instance is missing, RetryableError when the source is down.
    """
    count = len(selected.slices)
    first = selected.slices[0]
    rows, cols = first.rows, first.columns
    out = np.empty((count, rows, cols), dtype=np.int16)
    filled = np.zeros(count, dtype=bool)
    for index, ds in source.read_instances(selected.slices):
        out[index] = to_hu(ds, rows, cols)
        filled[index] = True
    if not filled.all():
        missing = int((~filled).sum())
        raise PermanentError(
            f"{missing} of {count} selected slices were not returned by the source; "
            "rescan the source (it changed after discovery)"
        )
    return Volume(hu=out, spacing=selected.spacing)


def to_hu(ds: Dataset, rows: int, cols: int) -> npt.NDArray[np.int16]:
    """Decode one slice and apply its rescale; int16 [rows, cols]."""
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = ds.pixel_array
    except (NotImplementedError, RuntimeError, ImportError) as exc:
        text = str(exc)
        if isinstance(exc, RuntimeError) and "exceptions were raised" in text:
            # a decoder is installed and ran, but rejected the data
            name = UID(syntax).name if syntax else "unknown"
            raise DecodeFailed(
                f"the decoder for {name} ({syntax}) rejected a slice's pixel data: corrupt, "
                "or a variant of the syntax the installed decoder does not handle"
            ) from exc
        # no decoder for the syntax, or every plugin lacks its dependency
        raise DecodeFailed(decoder_hint(syntax)) from exc
    except Exception as exc:
        raise DecodeFailed(
            f"corrupt pixel data in a slice ({type(exc).__name__}) with transfer syntax "
            f"{syntax or 'unknown'}"
        ) from exc
    if pixels.shape != (rows, cols):
        raise DecodeFailed(
            f"a slice decodes to shape {tuple(pixels.shape)}, expected ({rows}, {cols}) "
            "like the rest of the series (one grayscale frame per file)"
        )
    slope = _number(ds, "RescaleSlope", 1.0) or 1.0
    intercept = _number(ds, "RescaleIntercept", 0.0)
    if slope == 1.0 and intercept.is_integer():
        hu = pixels.astype(np.int32) + int(intercept)
    else:
        hu = np.rint(pixels.astype(np.float32) * np.float32(slope) + np.float32(intercept))
    return np.clip(hu, INT16_MIN, INT16_MAX).astype(np.int16)


def _number(ds: Dataset, keyword: str, default: float) -> float:
    try:
        value = float(ds.get(keyword, default))
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default
