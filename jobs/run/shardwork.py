"""What the driver hands a worker for one shard, and what comes back.

Plain frozen records, picklable, so a shard can run as a Ray task or in-process. A
`StudyWork` carries the study's PHI-free record plus a *locator* (whatever the volume
loader needs: file paths or a DICOMweb reference). Locators live only in driver memory and
task arguments; they are never stored, logged or put into results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kernel.reasons import Reason
from kernel.records import StudyRecord, StudyResult
from kernel.rounds import PriorScreen

__all__ = [
    "ShardOutcome",
    "ShardWork",
    "StudyWork",
    "WorkerPolicy",
]


@dataclass(frozen=True)
class WorkerPolicy:
    """Per-study retry rules inside a worker.

    poison_attempts: tries of a study that fails deterministically (BadInput,
        PermanentError, a decoder exception) before it is quarantined.
    retryable_window_s: how long a worker keeps retrying, with backoff, a backend that is
        unavailable before it gives the shard back to the driver (which backs off further).
    prefetch: load the next study in a thread while the current one is being inferred.
    """

    poison_attempts: int = 2
    retryable_window_s: float = 20.0
    prefetch: bool = True


@dataclass(frozen=True)
class StudyWork:
    """One study of a shard. `planned` is set when planning already decided its outcome
    (opted out, or quarantined by series selection); then `locator` is None."""

    record: StudyRecord
    locator: object | None = field(default=None, repr=False, compare=False)
    planned: Reason | None = None
    prior: PriorScreen | None = None  # the person's prior screen (spec.priors), if found
    # where the prior's pixels are (sealed like `locator`), when its sources still hold them
    prior_locator: object | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ShardWork:
    """One shard: the unit of scheduling, retry and commit."""

    campaign_id: str
    shard_id: str
    region: str
    studies: tuple[StudyWork, ...]

    @property
    def needs_worker(self) -> bool:
        """False when every study's outcome was decided at planning time."""
        return any(s.planned is None for s in self.studies)


@dataclass(frozen=True)
class ShardOutcome:
    """A shard's results plus where and how it ran (placement is not stored; tests and
    the driver's in-memory record read it)."""

    shard_id: str
    results: tuple[StudyResult, ...]
    node_id: str = ""
    node_resources: Mapping[str, float] = field(default_factory=dict)
    pid: int = 0
    wall_s: float = 0.0
    # (server URL, outcome, seconds) per inference attempt the worker's Triton client made
    # since its last shard, for the driver's metrics (bounded labels: server, outcome)
    backend_requests: tuple[tuple[str, str, float], ...] = ()
