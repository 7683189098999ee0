"""Ingest benchmark: headers scanned per second, and volume load MB/s on one core, for
uncompressed and each compressed syntax an encoder is installed for.

One series per syntax is written to a temporary folder (a chest-like phantom with CT noise,
so compressors see realistic entropy), then each measurement is repeated `runs` times and
the median reported. Rates are per CPU second of this (single-threaded) process, so they
are per-core figures that other load on a shared machine does not skew much; files are in
the page cache after writing, so this is parse/decode/rescale cost, not disk speed. MB/s
counts the int16 HU volume produced.

    python -m bench.ingest [--slices 48] [--matrix 512] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from jobs.ingest import Policy, Selected, discover, load_volume, select_series
from jobs.ingest.sources import FolderSource

__all__ = ["SYNTAXES", "BenchRow", "main", "run_ingest_bench"]

SYNTAXES: tuple[UID, ...] = (ExplicitVRLittleEndian, RLELossless, JPEG2000Lossless, JPEGLSLossless)


@dataclass(frozen=True)
class BenchRow:
    """Medians over the runs for one transfer syntax."""

    syntax: str
    slices: int
    file_mb: float
    headers_per_s: float
    load_mb_per_s: float
    load_slices_per_s: float


def run_ingest_bench(
    *, slices: int = 48, matrix: int = 512, runs: int = 5, workdir: Path | None = None
) -> list[BenchRow]:
    """Write one series per syntax, then time header scans and volume loads (medians)."""
    with tempfile.TemporaryDirectory(prefix="lungscreen-bench-", dir=workdir) as tmp:
        hu = _phantom(slices, matrix)
        rows = []
        for syntax in SYNTAXES:
            folder = Path(tmp) / syntax.name.replace(" ", "_").replace("/", "_")
            _write(folder, hu, syntax)
            rows.append(_measure(folder, syntax, slices, runs))
        return rows


def _measure(folder: Path, syntax: UID, slices: int, runs: int) -> BenchRow:
    source = FolderSource(folder)
    header_rates, load_rates, slice_rates = [], [], []
    policy = Policy(min_slices=2, min_extent_mm=1.0)
    for _ in range(runs):
        t0 = time.process_time()
        n = sum(1 for _ in source.scan())
        header_rates.append(n / max(time.process_time() - t0, 1e-6))
        (study,) = list(discover([source]))
        selected = select_series(study, policy)
        assert isinstance(selected, Selected)
        t0 = time.process_time()
        volume = load_volume(source, selected)
        seconds = max(time.process_time() - t0, 1e-6)  # CPU clock may tick coarsely
        load_rates.append(volume.nbytes / 1e6 / seconds)
        slice_rates.append(volume.hu.shape[0] / seconds)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    return BenchRow(
        syntax=syntax.name,
        slices=slices,
        file_mb=size,
        headers_per_s=statistics.median(header_rates),
        load_mb_per_s=statistics.median(load_rates),
        load_slices_per_s=statistics.median(slice_rates),
    )


def _phantom(slices: int, matrix: int) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:matrix, 0:matrix] / matrix - 0.5
    plane = np.full((matrix, matrix), -1000.0)
    plane[(x / 0.45) ** 2 + (y / 0.33) ** 2 <= 1] = 40.0
    for side in (-0.2, 0.2):
        plane[((x - side) / 0.15) ** 2 + (y / 0.22) ** 2 <= 1] = -850.0
    vol = plane[None] + rng.normal(0.0, 20.0, (slices, matrix, matrix))
    out: npt.NDArray[np.int16] = np.clip(np.rint(vol), -1024, 3071).astype(np.int16)
    return out


def _write(folder: Path, hu: npt.NDArray[np.int16], syntax: UID) -> None:
    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(hu.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.ImageType = "CT", "BENCH", ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (hu[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
        if syntax != ExplicitVRLittleEndian:
            ds.compress(syntax)
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


def format_table(rows: list[BenchRow]) -> str:
    """The rows as a fixed-width table for people."""
    head = f"{'transfer syntax':<46} {'MB on disk':>10} {'headers/s':>10} {'load MB/s':>10} "
    head += f"{'slices/s':>9}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.syntax:<46} {r.file_mb:>10.1f} {r.headers_per_s:>10.0f} "
            f"{r.load_mb_per_s:>10.1f} {r.load_slices_per_s:>9.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--slices", type=int, default=48)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    rows = run_ingest_bench(slices=args.slices, matrix=args.matrix, runs=args.runs)
    print(
        f"one core, medians of {args.runs} runs, {args.slices} slices of "
        f"{args.matrix}x{args.matrix}"
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
