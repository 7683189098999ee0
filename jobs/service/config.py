"""What the service is configured with, loaded once by `lungscreen serve` and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.service.oidc import OidcConfig
from jobs.spec import CampaignSpec
from jobs.store import ResultsStore, TokenKey
from kernel.defaults import MIN_CELL

__all__ = ["ServiceConfig"]


@dataclass(frozen=True)
class ServiceConfig:
    """What the service holds: the opened store, the campaigns' specs (for thresholds,
    sources and keys), the deployment's threshold floor, the environment recall reads
    source credentials from, the token key its tokens' rows must verify under, and the
    identity provider whose tokens it also admits (`oidc`; None: lungscreen tokens only)."""

    store: ResultsStore
    specs: Mapping[str, CampaignSpec] = field(default_factory=dict)
    min_cell_floor: int = MIN_CELL
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    failed_logins_per_minute: int = 10  # per client address and token id; then 429
    limit_window_s: float = 60.0  # the failed sign-ins' window, and the refusals' summary
    expensive_in_flight: int = 2  # reports and recall in flight per identity; then 429
    busy_retry_after_s: int = 10  # the Retry-After of that 429
    session_s: int = 2 * 3600  # a page sign-in's lifetime (jobs.service.sessions)
    token_key: TokenKey = field(kw_only=True, repr=False)
    oidc: OidcConfig | None = field(default=None, kw_only=True)
