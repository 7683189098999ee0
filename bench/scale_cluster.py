"""What `lungscreen bench scale` runs on: a local multi-node Ray cluster and the real Triton
server serving the load-test model, each for a block.

The cluster is `ray.cluster_utils.Cluster`: a head without CPUs (nothing is scheduled
there, as on a real cluster's head) and `nodes` nodes of `cpus_per_node` CPUs, each its own
raylet and object store; the block gets its address for `RunOptions(address=...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cluster.triton.server import LocalTritonServer, TritonServerConfig
from models.detection.loadtest import LOADTEST_MODEL, LOADTEST_REPOSITORY

__all__ = ["OBJECT_STORE_BYTES", "loadtest_triton", "local_ray_cluster"]

OBJECT_STORE_BYTES = 96 * 2**20  # per node: shards carry sealed locators, never volumes


@contextmanager
def local_ray_cluster(nodes: int, cpus_per_node: int = 1) -> Iterator[str]:
    """A head without CPUs plus `nodes` nodes; yields its address, shut down afterwards."""
    from ray.cluster_utils import Cluster  # Ray: this suite only

    if nodes < 1 or cpus_per_node < 1:
        raise ValueError(f"a scale cluster needs nodes >= 1 and cpus_per_node >= 1, got "
                         f"{nodes} and {cpus_per_node}")
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False, "object_store_memory": OBJECT_STORE_BYTES})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus_per_node, object_store_memory=OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
        yield str(cluster.address)
    finally:
        cluster.shutdown()  # type: ignore[no-untyped-call]


@contextmanager
def loadtest_triton() -> Iterator[str]:
    """The bundled tritonserver serving `loadtest_detector` on 127.0.0.1; yields its gRPC
    URL (grpc://HOST:PORT)."""
    config = TritonServerConfig(model_repositories=(LOADTEST_REPOSITORY,),
                                models=(LOADTEST_MODEL,))
    with LocalTritonServer(config) as server:
        yield f"grpc://{server.grpc_url}"
