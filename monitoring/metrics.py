"""Every lungscreen metric, declared once, on a registry the caller passes in.

Two kinds, chosen by where the truth lives:

- Process metrics (this module's `Metrics`): stage and study latency histograms, Triton
  client requests, build and model info. They describe what this process did; a driver
  restart resets them, which Prometheus' rate() and histogram_quantile() handle as a counter
  reset.
- Store-derived metrics (`monitoring.collector.CampaignCollector`): studies by outcome,
  quarantines by reason (per campaign, from the floor up), shards pending/running/done,
  studies planned, in flight, throughput, ETA, deadline and required throughput. Counts are
  read from the results store on each scrape, so they are exact while a campaign runs and
  after it resumes in a new driver (a process counter would restart at zero and forget the work
  committed before the crash).

Labels are bounded: campaign, region, stage, outcome, reason, model, version, server, state.
Never a study, patient, pseudonym, path, Lung-RADS category or error message.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = [
    "SHARD_ERRORS",
    "STAGES",
    "STAGE_BUCKETS",
    "TRITON_BUCKETS",
    "TRITON_OUTCOMES",
    "Metrics",
    "server_label",
    "triton_outcome",
]

# Seconds. CT work spans a 50 ms postprocess to a 10 min load of a slow PACS series.
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TRITON_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
STAGES = ("load", "infer", "postprocess", "commit")
# Why a shard attempt failed, in the driver's words (jobs.run.driver); anything else is "other".
SHARD_ERRORS = ("backend_unavailable", "worker_lost", "worker_error", "deadline", "other")
# The Triton client's per-attempt outcomes (cluster.triton.stats.Outcome): ok; retryable
# (unavailable, overloaded or timed out: retried if attempts remain); bad_input (the
# volume was refused: the study's fault, not the server's); permanent (a server error).
TRITON_OUTCOMES = ("ok", "retryable", "bad_input", "permanent")


def triton_outcome(outcome: str) -> str:
    """The bounded label for a client's outcome word ("permanent" for an unknown one)."""
    word = str(outcome).strip().lower()
    return word if word in TRITON_OUTCOMES else "permanent"


@functools.lru_cache(maxsize=1024)
def server_label(url: str) -> str:
    """scheme://host:port of a server URL: no credentials, path or query in a label."""
    parts = urlsplit(url if "://" in url else f"//{url}")
    host = parts.hostname or "unknown"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}" if parts.scheme else netloc


class Metrics:
    """The process metrics, registered on `registry` (tests pass a fresh CollectorRegistry)."""

    def __init__(self, registry: CollectorRegistry, version: str) -> None:
        self.registry = registry
        # label children by (url, outcome word): the hook runs once per Triton attempt
        self._triton_children: dict[tuple[str, str], tuple[Histogram, Counter]] = {}
        self.stage_duration = Histogram(
            "lungscreen_stage_duration_seconds",
            "Time one study spent in a stage (commit: a whole shard's transaction).",
            ["campaign", "stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.study_duration = Histogram(
            "lungscreen_study_duration_seconds",
            "End-to-end time of one study through load, infer and postprocess.",
            ["campaign", "region"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.studies_processed = Counter(
            "lungscreen_studies_processed_total",
            "Studies this driver process saw finish their stages (before commit); resets with "
            "the process. For campaign totals use lungscreen_studies_total.",
            ["campaign", "region"],
            registry=registry,
        )
        self.shard_failures = Counter(
            "lungscreen_shard_failures_total",
            "Shard attempts that failed in this driver process, by error kind.",
            ["campaign", "region", "error"],
            registry=registry,
        )
        self.triton_request_duration = Histogram(
            "lungscreen_triton_request_duration_seconds",
            "Latency of one Triton inference request as the client saw it, any outcome.",
            ["server"],
            buckets=TRITON_BUCKETS,
            registry=registry,
        )
        self.triton_requests = Counter(
            "lungscreen_triton_requests_total",
            "Triton inference attempts by outcome (ok, retryable, bad_input, permanent).",
            ["server", "outcome"],
            registry=registry,
        )
        self.build_info = Info(
            "lungscreen_build", "The running lungscreen version.", registry=registry
        )
        self.build_info.info({"version": version})
        self.model_info = Gauge(
            "lungscreen_model_info",
            "The model a campaign runs (always 1).",
            ["campaign", "model", "version"],
            registry=registry,
        )

    def set_model(self, campaign: str, model: str, version: str) -> None:
        self.model_info.labels(campaign, model, str(version)).set(1)

    def init_campaign(self, campaign: str, regions: tuple[str, ...] = ()) -> None:
        """Create the label children at zero so rate() and quantiles work from the start."""
        for stage in STAGES:
            self.stage_duration.labels(campaign, stage)
        for region in regions:
            self.study_duration.labels(campaign, region)
            self.studies_processed.labels(campaign, region)
            for error in SHARD_ERRORS:
                self.shard_failures.labels(campaign, region, error)

    def init_server(self, url: str) -> None:
        server = server_label(url)
        self.triton_request_duration.labels(server)
        for outcome in TRITON_OUTCOMES:
            self.triton_requests.labels(server, outcome)

    def observe_triton(self, url: str, outcome: str, seconds: float) -> None:
        """One Triton request: the hook a Triton client calls (server, outcome, seconds)."""
        key = (url, str(outcome))
        children = self._triton_children.get(key)
        if children is None:
            server = server_label(url)
            children = (self.triton_request_duration.labels(server),
                        self.triton_requests.labels(server, triton_outcome(outcome)))
            self._triton_children[key] = children
        children[0].observe(max(seconds, 0.0))
        children[1].inc()
