"""How to run a campaign (not what: that is the spec)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jobs.run.driver import DriverSettings
from jobs.run.shardwork import WorkerPolicy
from kernel.observer import CampaignObserver

__all__ = ["BackendChoice", "RunOptions"]

BackendChoice = Literal["auto", "triton", "inprocess"]


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what: that is the spec).

    address: an existing Ray cluster (None: embedded local Ray).
    backend: auto (the spec's Triton URLs, else the bundled local Triton), triton (the
        same, but the spec must name servers), inprocess (the model inside each worker).
    executor: ray, or inprocess (threads in this process; tests and tiny runs).
    ray_resources: custom resources for the embedded Ray node (e.g. `{"region:north": 1}`).
    model_parameters: parameters of an in-process model (e.g. the threshold_detector's
        `{"delay_s": "1"}`); a served model takes its parameters from its Triton config.
    """

    address: str | None = None
    backend: BackendChoice = "auto"
    executor: Literal["ray", "inprocess"] = "ray"
    num_cpus: int | None = None
    ray_resources: Mapping[str, float] = field(default_factory=dict)
    driver: DriverSettings | None = None
    policy: WorkerPolicy = field(default_factory=WorkerPolicy)
    observers: Sequence[CampaignObserver] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    model_parameters: Mapping[str, str] = field(default_factory=dict)
