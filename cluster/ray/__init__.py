"""Connecting to Ray: embedded local, an existing cluster, or a submitted Ray Job."""

from cluster.ray.connect import RayOptions, connect, submit_campaign

__all__ = [
    "RayOptions",
    "connect",
    "submit_campaign",
]
