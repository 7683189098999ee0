"""Helpers for campaign tests: cohorts, specs, a poison study, store counts, the CLI.

Cohorts come from synth (`small` profile), written once and cached by content
(`write_cohort_once`, over tests.cohorts); tests copy nothing, they point specs at them.

Specs screen with `threshold_detector` (models.detection.threshold: contract v1, about 0.2 s
a volume) unless a test names another model: campaign tests are about orchestration, and
the reference detector keeps its own tests (detector, Triton model, foreign cohort, demo).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import yaml
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

from jobs.store import ResultsStore
from kernel.records import StudyResult
from tests.store_helpers import audit_key

__all__ = [
    "LUNGSCREEN",
    "TEST_MODEL",
    "cancel_spec",
    "free_port",
    "needs_weights",
    "outcome_counts",
    "poison_one_study",
    "region_folders",
    "result_map",
    "run_cli",
    "run_spec",
    "start_cli",
    "stop_process_group",
    "write_cohort_once",
    "write_spec",
]

TEST_MODEL = {"name": "threshold_detector", "version": "1"}

LUNGSCREEN = [sys.executable, "-m", "cli.main"]


# Campaign tests screen with the reference model; its weights are committed in
# models/weights/ (from `lungscreen model train`). Missing weights fail the test loudly.
needs_weights = pytest.mark.usefixtures("reference_weights")


def write_cohort_once(*, studies: int, regions: int, seed: int, defects: bool = False) -> Path:
    """A synthetic `small` cohort, written once and cached by content across sessions
    (tests.cohorts.build_cohort: the key digests the arguments and synth's source). Treat
    it as read-only."""
    from tests.cohorts import build_cohort

    return build_cohort(studies=studies, regions=regions, seed=seed, profile="small",
                        defects=defects).root


def region_folders(cohort: Path) -> dict[str, Path]:
    """Region name -> its folder in a synth cohort (`dicom/<region>/`)."""
    return {p.name: p for p in sorted((cohort / "dicom").iterdir())
            if p.is_dir() and not p.name.startswith(".")}


def write_spec(path: Path, sources: Mapping[str, Sequence[Path]], *, campaign_id: str,
               sites: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
               **fields: Any) -> Path:
    """A campaign spec at `path` with one folder source list per region, and the regions'
    declared sites (`synth.cohort.read_declared_sites(cohort)`; none: every study `other`)."""
    doc: dict[str, Any] = {
        "id": campaign_id,
        "model": TEST_MODEL,
        "shard_size": 2,
        "max_shards_in_flight": 2,
        "regions": [{"name": name, "sources": [{"folder": str(f)} for f in folders],
                     **({"sites": list(sites[name])} if sites and name in sites else {})}
                    for name, folders in sources.items()],
        **fields,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def poison_one_study(region_folder: Path, work: Path) -> Path:
    """Copy `region_folder` to `work` and make one study undecodable: one slice of it
    becomes RLE Lossless whose segments are garbage. Headers stay valid, so discovery and
    selection accept the study; its volume cannot be decoded. Returns the copy."""
    shutil.copytree(region_folder, work)
    target = None
    for path in sorted(work.rglob("*")):
        if not path.is_file():
            continue
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            continue
        if ds.get("Modality") == "CT" and "PixelData" in ds and ds.get("Rows", 0) > 64:
            target = (path, ds)
            break
    assert target is not None, "no CT slice to poison"
    path, ds = target
    rng = np.random.default_rng(0)
    garbage = b"\x01\x00\x00\x00\x40\x00\x00\x00" + b"\x00" * 56 + rng.bytes(512)
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.PixelData = encapsulate([garbage])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return work


def outcome_counts(store_url: str, campaign_id: str) -> Counter[str]:
    with ResultsStore.open(store_url) as store:
        return Counter(r.outcome.value for r in store.results(campaign_id))


def result_map(store_url: str, campaign_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    """study pid -> (outcome, category, reason): what must equal a golden run's."""
    with ResultsStore.open(store_url) as store:
        results: list[StudyResult] = list(store.results(campaign_id))
    return {r.study_pid: (r.outcome.value, r.category.value if r.category else None,
                          r.reason.value if r.reason else None) for r in results}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    env.update(extra or {})
    return env


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `lungscreen ARGS` to completion (in its own session, killed on timeout)."""
    proc = start_cli(args, env=env, cwd=cwd)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*LUNGSCREEN, *args], env=_env(env), cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def stop_process_group(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Signal the whole session of `proc` (the CLI and the Ray it embedded), then reap."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    # Ray's own daemons may have left the session: give them a moment to exit
    time.sleep(1)


def run_spec(spec: Any, options: Any, registry: Any = None) -> Any:
    """`run_campaign` on a store opened on the spec's URL for the run (as the CLI does)."""
    from jobs.run.lifecycle import run_campaign

    with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
        return run_campaign(spec, options, store, registry)


def cancel_spec(spec: Any) -> str:
    """`cancel_campaign` on a store opened on the spec's URL."""
    from jobs.run.lifecycle import cancel_campaign

    with ResultsStore.open(spec.store_url, audit_key=audit_key()) as store:
        return cancel_campaign(spec, store)


def own_key_intake(cohort: Path, tmp_path: Path, campaign_id: str) -> tuple[Path, Any, Any, Any]:
    """(spec path, spec, pseudonymizer, intake) of a campaign over `cohort`'s regions with a
    pseudonym key of its own (the state folder's is shared by the test workers), its studies
    taken in for real: the set-up of the tests that re-identify (recall, exports)."""
    from jobs.ingest.intake import take_in
    from jobs.ingest.privacy import OptOutList, Pseudonymizer, load_or_create_key
    from jobs.spec.campaign_spec import load_spec

    folders = region_folders(cohort)
    spec_path = write_spec(tmp_path / "spec.yaml", {n: [p] for n, p in folders.items()},
                           campaign_id=campaign_id, data_dir=str(tmp_path / "data"),
                           privacy={"key_file": str(tmp_path / "keys" / "pseudonym.key")})
    spec = load_spec(spec_path)
    pseudonymizer = Pseudonymizer(load_or_create_key(spec.key_path))
    return spec_path, spec, pseudonymizer, take_in(spec, pseudonymizer,
                                                   OptOutList(pseudonymizer), env={})
