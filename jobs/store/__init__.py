"""The results store: campaigns, the shard ledger, one result per study (SQLite or
PostgreSQL through SQLAlchemy Core). See jobs.store.store for the exactly-once contract."""

from jobs.store.store import AuditEvent, Campaign, CampaignState, RegionProgress, ResultsStore
from jobs.store.urls import default_sqlite_url, normalize_url, redact

__all__ = [
    "AuditEvent",
    "Campaign",
    "CampaignState",
    "RegionProgress",
    "ResultsStore",
    "default_sqlite_url",
    "normalize_url",
    "redact",
]
