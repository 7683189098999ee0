"""The one place tests get synthetic DICOM cohorts from (STYLE.md #11).

Session fixtures `small_cohort` and `defect_cohort` write their cohort once and cache it
under `<repo>/.cache/synth/<key>/`, where the key digests the arguments and the generator's
source, so a change to synth/ writes a fresh cohort and an unchanged one is reused
across sessions. Treat the cached trees as read-only; copy one (`copy_to`) to modify it.

    def test_something(small_cohort):
        for study in small_cohort.truth:          # ground_truth.jsonl records
            ...
        FolderSource(small_cohort.dicom)          # the DICOM tree
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from synth.cohort import GENERATOR_VERSION, write_cohort, write_follow_up

__all__ = ["DEFECT_ARGS", "ROUND_ARGS", "SMALL_ARGS", "Cohort", "build_cohort",
           "build_follow_up", "defect_cohort", "round_cohorts", "small_cohort"]

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "synth"

SMALL_ARGS: dict[str, Any] = {"studies": 6, "regions": 2, "seed": 7, "profile": "small",
                              "defects": False}
# half the studies carry a defect: 12 studies, one of each of the 12 kinds
DEFECT_ARGS: dict[str, Any] = {"studies": 24, "regions": 2, "seed": 11, "profile": "tiny",
                               "defects": True, "defect_share": 0.5}


# three screening rounds of 40 people (tiny profile): the baseline, 12 and 36 months on
ROUND_ARGS: dict[str, Any] = {"studies": 40, "regions": 2, "seed": 13, "profile": "tiny",
                              "defects": False}


@dataclass(frozen=True)
class Cohort:
    """A written cohort: its folder, DICOM tree, ground truth records and cohort.json."""

    root: Path
    args: tuple[tuple[str, Any], ...]

    @property
    def dicom(self) -> Path:
        return self.root / "dicom"

    @cached_property
    def truth(self) -> tuple[dict[str, Any], ...]:
        lines = (self.root / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
        return tuple(json.loads(line) for line in lines)

    @cached_property
    def meta(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.root / "cohort.json").read_text(encoding="utf-8"))
        return doc

    def by_study_uid(self) -> dict[str, dict[str, Any]]:
        return {t["study_uid"]: t for t in self.truth}

    @cached_property
    def headers(self) -> dict[str, list[tuple[Path, Dataset]]]:
        """Every readable DICOM file's header (no pixels), grouped by SeriesInstanceUID."""
        out: dict[str, list[tuple[Path, Dataset]]] = {}
        for path in sorted(p for p in self.dicom.rglob("*") if p.is_file()):
            try:
                ds = dcmread(path, stop_before_pixels=True)
            except Exception:  # non-DICOM and truncated files are the defects' business
                continue
            out.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
        return out

    def copy_to(self, dest: Path) -> Cohort:
        """A private, writable copy of this cohort under `dest`."""
        shutil.copytree(self.root, dest)
        return Cohort(dest, self.args)


def _source_digest() -> str:
    h = hashlib.sha256(GENERATOR_VERSION.encode())
    for path in sorted((REPO / "synth").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cached(args: dict[str, Any], write: Callable[[Path], object]) -> Cohort:
    key = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:12]
    final = CACHE / f"{_source_digest()}-{key}"
    if (final / "cohort.json").exists():
        return Cohort(final, tuple(sorted(args.items())))
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.iterdir():  # cohorts of an older generator are never read again
        if not old.name.startswith((_source_digest(), ".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=CACHE))
    write(tmp)
    try:
        tmp.rename(final)  # atomic; another session may have won the race
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return Cohort(final, tuple(sorted(args.items())))


def build_cohort(**args: Any) -> Cohort:
    """The cohort for `args` (write_cohort's keywords), written once and cached."""
    return _cached(args, lambda tmp: write_cohort(tmp, workers=min(2, os.cpu_count() or 1),
                                                  **args))


def build_follow_up(prior: Cohort, **args: Any) -> Cohort:
    """The next round of `prior` for `args` (write_follow_up's keywords), written once and
    cached (the prior is read where it lies, as cached)."""
    return _cached({"prior": prior.root.name, **args},
                   lambda tmp: write_follow_up(tmp, prior.root,
                                               workers=min(2, os.cpu_count() or 1), **args))


@pytest.fixture(scope="session")
def small_cohort() -> Cohort:
    """6 defect-free studies of the small profile in 2 regions (seed 7)."""
    return build_cohort(**SMALL_ARGS)


@pytest.fixture(scope="session")
def defect_cohort() -> Cohort:
    """24 tiny-profile studies in 2 regions (seed 11), 12 of them with one defect each."""
    return build_cohort(**DEFECT_ARGS)


@pytest.fixture(scope="session")
def round_cohorts() -> tuple[Cohort, Cohort, Cohort]:
    """Three rounds of one cohort (ROUND_ARGS): the baseline, its follow-up 12 months on
    (seed 1), and that one's 24 months on (seed 2)."""
    first = build_cohort(**ROUND_ARGS)
    second = build_follow_up(first, months=12, seed=1)
    return first, second, build_follow_up(second, months=24, seed=2)


def assert_selected_as_planned(studies: Any, truth: dict[str, dict[str, Any]]) -> None:
    """Each discovered study's series selection is what its truth's `expected` says: the
    primary series where it is selectable, else the planned quarantine reason."""
    from jobs.ingest.selection import Selected, select_series  # ingest: only these checks

    for study in studies:
        t = truth[study.study_uid]
        decision = select_series(study)
        if isinstance(decision, Selected):
            assert t["expected"]["selected"], t["defects"]
            assert decision.series.series_uid == t["primary_series_uid"]
        else:
            assert t["expected"] == {"selected": False, "reason": decision.reason.value}


def moved_as_documented(point: Any, acq: dict[str, Any]) -> Any:
    """A point of the prior (LPS mm) where a follow-up's truth `acquisition` says it went,
    computed from the documented formula (not the generator's code): p' = Rz Ry Rx S (p - c)
    + c + shift, S stretching z about the pivot c (synth.cohort.write_follow_up)."""
    import numpy as np  # only the follow-up tests need it

    ax, ay, az = np.radians(acq["rotation_deg"])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    c = np.asarray(acq["pivot_lps_mm"])
    stretched = (np.asarray(point, dtype=float) - c) * np.array([1.0, 1.0, acq["z_scale"]])
    return rz @ ry @ rx @ stretched + c + np.asarray(acq["shift_mm"])
