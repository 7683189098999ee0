"""Strict residency on a multi-node local Ray cluster: every shard of a region runs on a
node labelled for that region (custom resource `region:<name>`), never elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.ray.connect import region_resource
from jobs.run.lifecycle import RunOptions
from jobs.spec.campaign_spec import load_spec
from kernel.errors import BadInput
from tests.campaign_helpers import (
    region_folders,
    run_spec,
    write_cohort_once,
    write_spec,
)
from tests.ray_helpers import local_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cohort() -> Path:
    return write_cohort_once(studies=4, regions=2, seed=41)


def test_strict_residency_runs_each_region_on_its_own_nodes(cohort: Path, tmp_path: Path) -> None:
    regions = region_folders(cohort)
    assert len(regions) == 2
    names = sorted(regions)
    spec = load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in regions.items()},
                                campaign_id="resident", residency="strict", shard_size=1))
    nodes = [{"num_cpus": 1, "resources": {region_resource(n): 1}} for n in names]
    with local_cluster(nodes) as (_, added):
        node_region = {node.node_id: name for node, name in zip(added, names, strict=True)}
        run = run_spec(spec, RunOptions(backend="inprocess"))
    assert run.state == "done"
    assert run.report is not None
    placements = run.report.placements
    assert sum(run.counts.values()) == 4
    ran = 0
    for shard_id, where in placements.items():
        region = shard_id.rsplit("-", 1)[0]
        for placement in where:
            assert node_region[placement.node_id] == region, (shard_id, placement)
            assert region_resource(region) in placement.node_resources
            ran += 1
    assert ran == len(placements) > 0
    assert {shard.rsplit("-", 1)[0] for shard in placements} == set(names)


def test_strict_residency_refuses_a_cluster_without_the_region(
    cohort: Path, tmp_path: Path
) -> None:
    regions = region_folders(cohort)
    spec = load_spec(write_spec(tmp_path / "c.yaml", {n: [f] for n, f in regions.items()},
                                campaign_id="nowhere", residency="strict"))
    first = sorted(regions)[0]
    with local_cluster([{"num_cpus": 1, "resources": {region_resource(first): 1}}]), \
            pytest.raises(BadInput, match="no Ray node serves region"):
        run_spec(spec, RunOptions(backend="inprocess"))
