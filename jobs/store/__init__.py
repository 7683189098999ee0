"""The results store: campaigns, the shard ledger, one result per study (SQLite or
PostgreSQL through SQLAlchemy Core). See jobs.store.store for the exactly-once contract."""

from typing import TYPE_CHECKING

from jobs.store.anchor import AuditKey
from jobs.store.records import AuditEvent, Campaign, CampaignState, OutcomeCount, RegionLedger
from jobs.store.store import ResultsStore
from jobs.store.tokenkey import TOKEN_KEY_FILE, TokenKey
from jobs.store.tokens import Identity, TokenInfo
from jobs.store.urls import default_sqlite_url, normalize_url, redact, refuse_password, sqlite_path
from kernel.faces import lazy_names

if TYPE_CHECKING:
    from jobs.store.roles import role_grants

# the schema owner's grants (`lungscreen store roles`): off `import jobs.store`
__getattr__ = lazy_names(__name__, {"role_grants": "roles"})

__all__ = [
    "TOKEN_KEY_FILE",
    "AuditEvent",
    "AuditKey",
    "Campaign",
    "CampaignState",
    "Identity",
    "OutcomeCount",
    "RegionLedger",
    "ResultsStore",
    "TokenInfo",
    "TokenKey",
    "default_sqlite_url",
    "normalize_url",
    "redact",
    "refuse_password",
    "role_grants",
    "sqlite_path",
]
