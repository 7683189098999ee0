"""A local rehearsal of the Kubernetes deployment: the prod overlay's RayJob entrypoint runs
against a local multi-node Ray cluster shaped like its RayCluster (a head without CPUs, one
worker node per region group advertising the same custom resources), the campaign spec from
its ConfigMap (DICOMweb archives per region with credentials from the environment, a
PostgreSQL store with PGPASSWORD, strict residency), a real Triton and real Orthanc archives.
Only addresses and paths are rewritten to this machine's, as a pod's DNS and mounts would."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.campaign_helpers import TEST_MODEL, outcome_counts, region_folders, write_cohort_once
from tests.servers.orthanc import start_orthanc
from tests.test_k8s import render_cached

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]


def _one(docs: list[dict[str, Any]], kind: str, name_part: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and name_part in d["metadata"]["name"]]
    return found


def test_prod_rayjob_entrypoint_runs_on_a_local_cluster_shaped_like_the_raycluster(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    contract_triton_server, postgres_server,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray
    from ray.cluster_utils import Cluster

    docs = render_cached("prod")
    job = _one(docs, "RayJob", "campaign")
    spec = yaml.safe_load(_one(docs, "ConfigMap", "campaign")["data"]["campaign.yaml"])
    raycluster = _one(docs, "RayCluster", "lungscreen")
    argv = shlex.split(job["spec"]["entrypoint"])
    [spec_path_in_pod] = [a for a in argv if a.endswith(".yaml")]
    # the pod's metrics endpoint, on a free loopback port here
    argv[argv.index("--metrics-port") + 1] = "0"
    argv[argv.index("--metrics-addr") + 1] = "127.0.0.1"
    assert spec["residency"] == "strict" and len(spec["regions"]) == 2

    cohort = write_cohort_once(studies=6, regions=2,
                               seed=97)
    folders = list(region_folders(cohort).values())
    env = dict(os.environ)
    with ExitStack() as stack:
        # one DICOMweb archive per region, credentials in the variables the spec names
        for region, folder in zip(spec["regions"], folders, strict=True):
            archive = stack.enter_context(start_orthanc())
            archive.upload(p for p in sorted(folder.rglob("*")) if p.is_file()
                           and p.read_bytes()[128:132] == b"DICM")
            web = region["sources"][0]["dicomweb"]
            web["url"] = archive.dicomweb_url
            env[web["username_env"]], env[web["password_env"]] = archive.auth
            # the worker groups hold the archives' secrets in their own environment (task
            # arguments carry none): the Ray nodes started below inherit these
            monkeypatch.setenv(web["username_env"], archive.auth[0])
            monkeypatch.setenv(web["password_env"], archive.auth[1])
        spec["triton"]["urls"] = [f"grpc://{contract_triton_server.grpc_url}"]
        spec["model"] = dict(TEST_MODEL)  # orchestration is under test, not the model
        spec["store"] = postgres_server.create_database("rehearsal")
        env["PGPASSWORD"] = "not-needed-with-local-trust"
        key = tmp_path / "key" / "pseudonym.key"
        spec["privacy"]["key_file"] = str(key)
        spec["data_dir"] = str(tmp_path / "data")
        spec_file = tmp_path / "etc" / Path(spec_path_in_pod).name
        spec_file.parent.mkdir()
        spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))

        # the cluster: head with the head group's num-cpus, one node per worker group that
        # can run screening work, with the group's Ray custom resources
        head_cpus = int(raycluster["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"])
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": head_cpus, "include_dashboard": False,
            "object_store_memory": 96 * 1024 * 1024})
        stack.callback(cluster.shutdown)
        for group in raycluster["spec"]["workerGroupSpecs"]:
            resources = {k: float(v) for k, v in group.get("resources", {}).items()}
            if group["groupName"].startswith("cpu-"):
                cluster.add_node(num_cpus=1, resources=resources,
                                 object_store_memory=96 * 1024 * 1024)
        cluster.wait_for_nodes()
        assert not ray.is_initialized()

        # what the Ray Job runs on the head: the entrypoint with RAY_ADDRESS set
        env.update({"RAY_ADDRESS": cluster.address,
                    "LUNGSCREEN_STATE_DIR": str(tmp_path / "state"),
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})
        command = [str(spec_file) if a == spec_path_in_pod else a for a in argv]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert first.returncode == 0, first.stderr[-4000:]
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-4000:]

    truth = [yaml.safe_load(line) for line in (cohort / "ground_truth.jsonl").read_text()
             .splitlines() if line.strip()]
    counts = outcome_counts(spec["store"], spec["id"])
    assert sum(counts.values()) == len(truth), counts
    assert counts == Counter({"screened": len(truth)}), counts
    assert "nothing to do" in again.stdout + again.stderr
