"""`lungscreen bench synth` (or `python -m bench.synth`): generator speed, medians.

- render: seconds per phantom, small and realistic profiles (one core);
- write: DICOM writing alone (a rendered study), MB/s per transfer syntax (one core);
- cohort: `write_cohort` end to end, studies/s and MB/s, one worker and all cores.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pydicom.uid import UID

from synth.cohort import write_cohort
from synth.dicom_writer import ENCODING_PLUGINS, VENDORS, SeriesInfo, SliceOut, StudyInfo
from synth.dicom_writer import write_series as write_dicom_series
from synth.phantom import make_phantom
from synth.plan import plan_cohort

__all__ = ["SynthBench", "run_synth_bench"]


@dataclass(frozen=True)
class SynthBench:
    """Medians of `runs` runs (seconds, MB/s, studies/s)."""

    runs: int
    studies: int
    render_small_s: float
    render_realistic_s: float
    write_mb_s: dict[str, float]  # transfer syntax name -> MB/s of HU pixels written
    cohort_1_worker: dict[str, float]
    cohort_all_workers: dict[str, float]
    workers: int

    def lines(self) -> list[str]:
        out = [f"synth bench: medians of {self.runs} runs",
               f"  render small      {self.render_small_s:6.2f} s/study (1 core)",
               f"  render realistic  {self.render_realistic_s:6.2f} s/study (1 core)"]
        for name, rate in self.write_mb_s.items():
            out.append(f"  write {name:<44} {rate:7.1f} MB/s (1 core)")
        for label, c in (("1 worker", self.cohort_1_worker),
                         (f"{self.workers} workers", self.cohort_all_workers)):
            out.append(f"  cohort {self.studies} small studies, {label}: "
                       f"{c['studies_per_s']:.2f} studies/s, {c['mb_per_s']:.1f} MB/s")
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _write_rates(tmp: Path, runs: int) -> dict[str, float]:
    ph = make_phantom(0, "small")
    plan = plan_cohort(studies=1, regions=1, seed=0, profile="small", defects=False)[0]
    series = SeriesInfo("2.25.1", 2, "AX", ph.spacing[0], (ph.spacing[1], ph.spacing[2]))
    megabytes = ph.hu.nbytes / 1e6
    rates = {}
    for syntax in ENCODING_PLUGINS:
        info = StudyInfo("2.25.2", "2.25.3", plan.identity, VENDORS[0], UID(syntax), 120.0, 30.0,
                         "B", "FFS")
        folder = tmp / "write"

        def once(info: StudyInfo = info, folder: Path = folder) -> None:
            shutil.rmtree(folder, ignore_errors=True)
            write_dicom_series(info, series, [
                SliceOut(folder / f"{k}.dcm", ph.hu[k], (0.0, 0.0, 2.0 * k), k + 1)
                for k in range(ph.hu.shape[0])])

        rates[UID(syntax).name] = megabytes / _median_time(once, runs)
    return rates


def _cohort_rate(tmp: Path, studies: int, workers: int, runs: int) -> dict[str, float]:
    rates, mbs = [], []
    for r in range(runs):
        out = tmp / f"cohort-{workers}-{r}"
        t0 = time.perf_counter()
        s = write_cohort(out, studies=studies, regions=2, seed=r, profile="small",
                         workers=workers)
        dt = time.perf_counter() - t0
        rates.append(studies / dt)
        mbs.append(s.bytes / 1e6 / dt)
        shutil.rmtree(out, ignore_errors=True)
    return {"studies_per_s": statistics.median(rates), "mb_per_s": statistics.median(mbs)}


def run_synth_bench(runs: int = 3, studies: int = 8) -> SynthBench:
    """Run the generator benchmarks (a few minutes on two cores with the defaults)."""
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as name:
        tmp = Path(name)
        seeds = iter(range(1000))
        small = _median_time(lambda: make_phantom(next(seeds), "small"), max(runs, 5))
        realistic = _median_time(lambda: make_phantom(next(seeds), "realistic"), runs)
        write = _write_rates(tmp, runs)
        one = _cohort_rate(tmp, studies, 1, runs)
        many = _cohort_rate(tmp, studies, workers, runs)
    return SynthBench(runs, studies, small, realistic, write, one, many, workers)


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(run_synth_bench().lines()))
