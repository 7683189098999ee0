"""End to end through the CLI: `lungscreen campaign run` on real Ray (embedded) and a real
Triton server, with SQLite and with PostgreSQL; the same campaign run twice; a cohort
written by another program; the driver SIGKILLed mid-campaign and resumed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.store import ResultsStore
from tests.campaign_helpers import (
    outcome_counts,
    region_folders,
    result_map,
    run_cli,
    start_cli,
    stop_process_group,
    write_cohort_once,
    write_spec,
)
from tests.ray_helpers import all_pids, wait_for
from tests.servers.triton import THRESHOLD_SLOW_MODEL

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cohort() -> Path:
    return write_cohort_once(studies=6, regions=2,
                             seed=61, defects=True)


@pytest.fixture
def triton_url(contract_triton_server) -> str:  # type: ignore[no-untyped-def]
    return f"grpc://{contract_triton_server.grpc_url}"


def _env(tmp_path: Path) -> dict[str, str]:
    return {"LUNGSCREEN_STATE_DIR": str(tmp_path / "state")}


def _run(spec: Path, tmp_path: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(["campaign", "run", str(spec), "--num-cpus", "2", *extra],
                   env=_env(tmp_path))


def test_campaign_run_on_ray_and_triton_then_again_does_nothing(
    cohort: Path, tmp_path: Path, triton_url: str
) -> None:
    spec = write_spec(tmp_path / "c.yaml", {n: [f] for n, f in region_folders(cohort).items()},
                      campaign_id="e2e", triton={"urls": [triton_url]})
    first = _run(spec, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "campaign e2e done" in first.stdout
    assert "next: lungscreen report e2e --by region" in first.stdout
    # a finished campaign measures its last increment for the analysts itself
    assert "release: increment 1 measured" in first.stdout
    store_url = f"sqlite:///{tmp_path / 'lungscreen-data' / 'results.db'}"
    counts = outcome_counts(store_url, "e2e")
    with ResultsStore.open(store_url) as store:
        progress = store.progress("e2e")
    seen = sum(p.studies_planned + p.studies_settled_early for p in progress.values())
    assert sum(counts.values()) == seen >= 6
    assert counts["screened"] >= 1
    # no locator (file path) in anything printed
    assert str(cohort) not in first.stderr and str(cohort) not in first.stdout
    # the embedded Ray's token authentication is said explicitly: no warning every campaign
    assert "Token authentication is enabled" not in first.stderr

    second = _run(spec, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "nothing to do" in second.stdout
    assert "release: increment" not in second.stdout  # nothing new: nothing measured
    assert outcome_counts(store_url, "e2e") == counts


def test_campaign_run_with_postgresql(
    cohort: Path, tmp_path: Path, triton_url: str, postgres_url: str
) -> None:
    spec = write_spec(tmp_path / "c.yaml", {n: [f] for n, f in region_folders(cohort).items()},
                      campaign_id="e2e-pg", triton={"urls": [triton_url]}, store=postgres_url)
    done = _run(spec, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = outcome_counts(postgres_url, "e2e-pg")
    assert sum(counts.values()) >= 6 and counts["screened"] >= 1


def test_campaign_over_a_cohort_written_by_another_program(
    foreign_cohort, tmp_path: Path, triton_url: str  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "c.yaml", {"foreign": [foreign_cohort.dicom]},
                      campaign_id="foreign", triton={"urls": [triton_url]})
    done = _run(spec, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    store_url = f"sqlite:///{tmp_path / 'lungscreen-data' / 'results.db'}"
    counts = outcome_counts(store_url, "foreign")
    truth = foreign_cohort.truth
    assert sum(counts.values()) == len(truth)
    expected_selected = sum(1 for t in truth if t["expected"]["selected"])
    assert counts["screened"] == expected_selected


def _session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`."""
    out = []
    for pid in all_pids():
        try:
            if os.getsid(pid) != sid:
                continue
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (ProcessLookupError, PermissionError, OSError):
            continue
        if state != "Z":
            out.append(pid)
    return out


def test_driver_sigkilled_mid_campaign_then_resume_equals_an_uninterrupted_run(
    cohort: Path, tmp_path: Path, triton_url: str
) -> None:
    folders = {n: [f] for n, f in region_folders(cohort).items()}
    key = {"key_file": str(tmp_path / "pseudonym.key")}  # same pseudonyms in both runs
    golden_spec = write_spec(tmp_path / "golden" / "c.yaml", folders, campaign_id="golden",
                             triton={"urls": [triton_url]}, shard_size=1, privacy=key)
    golden = _run(golden_spec, tmp_path)
    assert golden.returncode == 0, golden.stderr[-3000:]
    golden_results = result_map(
        f"sqlite:///{tmp_path / 'golden' / 'lungscreen-data' / 'results.db'}", "golden")

    # the same model sleeping 1.5 s a volume, so the driver is killed mid-campaign
    spec = write_spec(tmp_path / "crash" / "c.yaml", folders, campaign_id="crash",
                      triton={"urls": [triton_url]}, shard_size=1, max_shards_in_flight=1,
                      privacy=key, model={"name": THRESHOLD_SLOW_MODEL, "version": "1"})
    store_url = f"sqlite:///{tmp_path / 'crash' / 'lungscreen-data' / 'results.db'}"
    proc = start_cli(["campaign", "run", str(spec), "--num-cpus", "1"], env=_env(tmp_path))

    def some_shards_done() -> bool:
        if not (tmp_path / "crash" / "lungscreen-data" / "results.db").exists():
            return False
        try:
            with ResultsStore.open(store_url) as store:
                progress = store.progress("crash")
        except Exception:
            return False
        done = sum(p.shards_done for p in progress.values())
        planned = sum(p.shards_planned for p in progress.values())
        return 1 <= done < planned

    try:
        wait_for(some_shards_done, 600, "the first committed shard")
    finally:
        stop_process_group(proc)  # SIGKILL: the driver and its embedded Ray
    # Ray's daemons notice their driver is gone and exit: nothing of the run is left behind
    wait_for(lambda: not _session_processes(proc.pid), 60, "the killed run's processes to exit")
    partial = sum(outcome_counts(store_url, "crash").values())
    assert partial < len(golden_results)

    resumed = run_cli(["campaign", "resume", "crash", "--num-cpus", "2"], env=_env(tmp_path))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "campaign crash done" in resumed.stdout
    assert result_map(store_url, "crash") == golden_results
