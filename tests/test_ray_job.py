"""`lungscreen campaign run SPEC --submit --address http://HEAD:8265`: the campaign runs as a
Ray Job on an existing (local) cluster, with the spec shipped in the job's working dir."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.campaign_helpers import (
    free_port,
    outcome_counts,
    region_folders,
    run_cli,
    write_cohort_once,
    write_spec,
)
from tests.ray_helpers import started

if TYPE_CHECKING:
    from ray.cluster_utils import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]


def test_campaign_submitted_as_a_ray_job(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, contract_triton_server,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    cohort = write_cohort_once(studies=4, regions=1,
                               seed=81)
    spec = write_spec(tmp_path / "c.yaml", {n: [f] for n, f in region_folders(cohort).items()},
                      campaign_id="as-job", data_dir=str(tmp_path / "data"),
                      triton={"urls": [f"grpc://{contract_triton_server.grpc_url}"]})
    # the job's entrypoint finds `lungscreen` on the cluster's PATH, as in the image
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    cluster, port = _head_with_dashboard()
    try:
        address = f"http://127.0.0.1:{port}"
        submitted = run_cli(["campaign", "run", str(spec), "--submit", "--address", address])
        assert submitted.returncode == 0, submitted.stderr[-3000:]
        job_id = submitted.stdout.split()[1].rstrip(";")
        client = JobSubmissionClient(address)
        deadline = time.monotonic() + 600
        status = client.get_job_status(job_id)
        while status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(2)
            status = client.get_job_status(job_id)
        logs = client.get_job_logs(job_id)
        assert status == JobStatus.SUCCEEDED, logs[-3000:]
        assert "campaign as-job done" in logs
    finally:
        cluster.shutdown()
    counts = outcome_counts(f"sqlite:///{tmp_path / 'data' / 'results.db'}", "as-job")
    assert sum(counts.values()) == 4


def _head_with_dashboard() -> tuple[Cluster, int]:
    """A one-node cluster with the job server, started as `local_cluster` starts its nodes
    (once more if the head timed out registering: start-up, not what this test checks)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster()

    def start() -> int:
        port = free_port()
        cluster.add_node(num_cpus=2, include_dashboard=True, dashboard_port=port,
                         dashboard_host="127.0.0.1", object_store_memory=128 * 1024 * 1024)
        return port

    try:
        return cluster, started(start)
    except Exception:
        cluster.shutdown()
        raise
