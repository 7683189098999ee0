"""The service's own metrics, served at /metrics: requests by route template, method and
status, latency by route template, refusals by kind. Operational only: labels are route
templates (never a path with a campaign id in it), methods, status codes and refusal kinds;
no clinical count, campaign, token or person. Each app has its own registry, so tests and
several apps in one process never share series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from jobs.service.oidc import REASONS as OIDC_REFUSALS

__all__ = ["REFUSALS", "ServiceMetrics"]

# request.state.refusal values (jobs.service.auth, jobs.service.deps): a bounded label set
REFUSALS = ("no_token", "bad_token", "wrong_role", "rate_limited", "busy",
            *OIDC_REFUSALS)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceMetrics:
    """The service's collectors, registered in `registry` (a new one when None)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "lungscreen_service_requests", "HTTP requests answered, by route template, "
            "method and status", ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "lungscreen_service_request_duration_seconds", "Time to answer a request, by "
            "route template", ["route"], buckets=_BUCKETS, registry=self.registry)
        self.refusals = Counter(
            "lungscreen_service_refusals", "Requests refused, by kind: no_token, bad_token "
            "(401), wrong_role (403), rate_limited (429 after failed sign-ins), busy (429, "
            "expensive requests in flight), oidc_* (401: why a single sign-on token was "
            "refused)", ["kind"], registry=self.registry)
        for kind in REFUSALS:
            self.refusals.labels(kind)

    def observe(self, route: str, method: str, status: int, seconds: float,
                refusal: str) -> None:
        """Count one answered request; `route` is its template ("unmatched" for none)."""
        method = method if method in _METHODS else "other"  # any verb is sent; few are kept
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if refusal in REFUSALS:
            self.refusals.labels(refusal).inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
