"""`lungscreen bench clinical`: the cost of a study's SR, built and sent to a PACS (medians).

Over a small synthetic cohort (selected series of 60-ish slices, three nodules reported per
study), per study:

- build: the TID 1500 report from the source headers (highdicom) and its Part 10 bytes,
  against writing one of the source's own headers as a DICOM file (pydicom), what writing
  any DICOM object costs here;
- STOW, new: the QIDO-RS question and the STOW-RS send (dicomweb-client) to a local Orthanc
  (bench.pacs), against the same bytes POSTed to Orthanc's own REST API (no question, no
  multipart), what storing one instance costs there;
- STOW, already held: the question alone, what a re-run costs per study.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.dataset import Dataset

from bench.pacs import start_orthanc
from jobs.clinical import Sent, SrIdentity, build_sr, send_report, sr_bytes, sr_uid
from jobs.ingest import Selected, discover, select_series
from jobs.ingest.sources import FolderSource
from kernel import Category, Nodule, NoduleType, Outcome, StudyResult
from synth.cohort import write_cohort

__all__ = ["ClinicalBench", "run_clinical_bench"]

T = TypeVar("T")


@dataclass(frozen=True)
class ClinicalBench:
    """Milliseconds per study, medians of `runs` runs over `studies` studies."""

    runs: int
    studies: int
    build_ms: float
    write_baseline_ms: float
    stow_new_ms: float
    rest_post_baseline_ms: float
    stow_present_ms: float
    report_kb: float

    def lines(self) -> list[str]:
        return [
            f"clinical outputs: ms per study, medians of {self.runs} runs over "
            f"{self.studies} studies (SR {self.report_kb:.0f} kB)",
            f"  SR build (highdicom) + bytes  {self.build_ms:8.2f}   "
            f"baseline, a header written by pydicom {self.write_baseline_ms:6.2f}   "
            f"ratio {self.build_ms / self.write_baseline_ms:5.1f}",
            f"  STOW-RS, new (QIDO + STOW)    {self.stow_new_ms:8.2f}   "
            f"baseline, Orthanc REST POST          {self.rest_post_baseline_ms:6.2f}   "
            f"ratio {self.stow_new_ms / self.rest_post_baseline_ms:5.1f}",
            f"  STOW-RS, already held (QIDO)  {self.stow_present_ms:8.2f}",
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _inputs(folder: Path, studies: int) -> list[tuple[StudyResult, Dataset, Selected]]:
    write_cohort(folder, studies=studies, regions=1, seed=4242, workers=1)
    out = []
    for i, study in enumerate(discover([FolderSource(folder / "dicom")])):
        selected = select_series(study)
        if not isinstance(selected, Selected):
            continue
        _, first = next(iter(selected.series.source.read_instances(selected.slices[:1])))
        nodules = tuple(Nodule(len(selected.slices) // 2, 100 + 40 * k, 120 + 30 * k,
                               6.0 + k, 6.0 + k, NoduleType.SOLID, 0.9) for k in range(3))
        result = StudyResult(f"{i:016x}", f"{i:016x}", "north", "a", "60-64", "F",
                             Outcome.SCREENED, "lung_nodule_detector", "bench",
                             category=Category.SUSPICIOUS_4A, nodules=nodules)
        out.append((result, first, selected))
    return out


def _per_study(fn: Callable[[T], object], items: Sequence[T]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) * 1000 / len(items)


def run_clinical_bench(*, runs: int = 5, studies: int = 6) -> ClinicalBench:
    with tempfile.TemporaryDirectory(prefix="lungscreen-bench-clinical-") as tmp, \
            start_orthanc() as pacs:
        inputs = _inputs(Path(tmp), studies)

        def build(item: tuple[StudyResult, Dataset, Selected]) -> bytes:
            result, first, selected = item
            identity = SrIdentity(sr_uid(result.study_pid, "i"), sr_uid(result.study_pid, "s"))
            return sr_bytes(build_sr(result, first, selected.slices, identity=identity,
                                     key_fingerprint="bench"))

        def write(item: tuple[StudyResult, Dataset, Selected]) -> None:
            item[1].save_as(io.BytesIO(), enforce_file_format=True)

        reports = [build(item) for item in inputs]
        datasets = [dcmread(io.BytesIO(b)) for b in reports]
        session = requests.Session()
        session.auth = pacs.auth
        client = DICOMwebClient(pacs.dicomweb_url, session=session)

        def stow(ds: Dataset) -> None:
            sent, why = send_report(client, ds, pacs.dicomweb_url)
            if sent is Sent.FAILED:
                raise RuntimeError(f"the bench's STOW failed: {why}")

        def post(data: bytes) -> None:
            session.post(f"{pacs.url}/instances", data=data, timeout=30).raise_for_status()

        figures: dict[str, list[float]] = {k: [] for k in ("build", "write", "new", "rest",
                                                            "present")}
        for _ in range(runs):
            figures["build"].append(_per_study(build, inputs))
            figures["write"].append(_per_study(write, inputs))
            pacs.clear()
            figures["new"].append(_per_study(stow, datasets))
            figures["present"].append(_per_study(stow, datasets))
            pacs.clear()
            figures["rest"].append(_per_study(post, reports))
        m = {k: statistics.median(v) for k, v in figures.items()}
    return ClinicalBench(runs, len(inputs), m["build"], m["write"], m["new"], m["rest"],
                         m["present"], statistics.median(len(b) for b in reports) / 1024)

