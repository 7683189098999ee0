"""The results store: campaigns, the shard ledger, one result per study (SQLite or
PostgreSQL through SQLAlchemy Core). See jobs.store.store for the exactly-once contract."""

from jobs.store.anchor import AuditKey
from jobs.store.records import AuditEvent, Campaign, CampaignState, OutcomeCount, RegionLedger
from jobs.store.store import ResultsStore
from jobs.store.tokenkey import TokenKey
from jobs.store.urls import default_sqlite_url, normalize_url, redact

__all__ = [
    "AuditEvent",
    "AuditKey",
    "Campaign",
    "CampaignState",
    "OutcomeCount",
    "RegionLedger",
    "ResultsStore",
    "TokenKey",
    "default_sqlite_url",
    "normalize_url",
    "redact",
]
