"""The results store's tables (SQLAlchemy Core). Nothing here holds PHI: studies and
patients are pseudonyms, places are region and site codes; no paths, UIDs or names.

- campaigns: one row per campaign, its spec digest, model and life-cycle state.
- shards: the ledger, one row per planned shard; state planned -> done in the same
  transaction that inserts the shard's results.
- results: one row per (campaign, study pseudonym, model version), so a replay cannot
  double-count; one column per grouping dimension (kernel.records.DIMENSIONS).
- events: the audit trail (requests, exports, tokens, campaign life cycle): each event with
  its sequence number and a MAC chained to the one before (jobs.store.trail).
- tokens: the service's bearer tokens, by name and role, stored only as salted hashes.
- drivers: which driver process runs a campaign now (a lease renewed while it runs), so a
  second driver of the same campaign is refused instead of running its shards again.
- release_increments, release_measurements, release_base: the analysts' release (jobs.release),
  append-only: each increment's boundaries, how it was measured (sigma, rho), and its
  reconciled noisy counts, the only thing analysts' tables are derived from.
- worklists, reading_tasks, reading_decisions: the reading worklist (kernel.worklist): how
  a campaign's tasks are drawn (threshold, sample fraction and seed, recorded once), its
  tasks, and readers' decisions, append-only beside the results (never changing them).

A column or index added to a table after its first release is declared in its table and in
`ADDED_COLUMNS` / `ADDED_INDEXES`, so that `lungscreen store init` (jobs.store.migrate)
adds it to older stores.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

__all__ = [
    "ADDED_COLUMNS",
    "ADDED_INDEXES",
    "SCHEMA_VERSION",
    "campaign_sites",
    "campaigns",
    "drivers",
    "events",
    "meta",
    "metadata",
    "reading_decisions",
    "reading_tasks",
    "release_base",
    "release_increments",
    "release_measurements",
    "results",
    "shards",
    "tokens",
    "worklists",
]

SCHEMA_VERSION = "1"

metadata = MetaData()

meta = Table(
    "lungscreen_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("spec_digest", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("plan_digest", String(64)),
    Column("shard_count", Integer),
    Column("study_count", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("key_fingerprint", String(32)),  # Pseudonymizer.fingerprint(); never the key
)

# The campaign's declared geography (jobs.spec.sources.RegionSpec.sites, with `other`), as
# it started: the release measures these sites, never sites read from the results.
campaign_sites = Table(
    "campaign_sites",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("region", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    PrimaryKeyConstraint("campaign_id", "region", "site"),
)

shards = Table(
    "shards",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("shard_id", String(128), nullable=False),
    Column("region", String(64), nullable=False),
    Column("shard_index", Integer, nullable=False),
    Column("study_count", Integer, nullable=False),
    Column("study_pids", Text, nullable=False),  # JSON list of study pseudonyms
    Column("plan_digest", String(64), nullable=False),  # the shard's content digest
    Column("state", String(16), nullable=False),  # planned | done
    Column("attempts", Integer, nullable=False, default=0),
    Column("committed_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("campaign_id", "shard_id"),
    Index("ix_shards_campaign_state", "campaign_id", "state"),
)

results = Table(
    "results",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("study_pid", String(64), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("patient_pid", String(64), nullable=False),
    Column("region", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("age_band", String(16), nullable=False),
    Column("sex", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("category", String(4)),
    Column("reason", String(64)),
    Column("nodules", Text, nullable=False),  # JSON [[z, y, x, d_mm, solid_mm, type, p], ...]
    Column("timings", Text, nullable=False),  # JSON {"load": s, "infer": s, ...}
    Column("shard_id", String(128)),  # NULL: settled before the run (opted out, quarantined)
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Column("exam_day", String(10)),  # shifted by the person's keyed offset; never the real day
    Column("screening_round", Integer),
    Column("prior_category", String(4)),  # the prior screen's category, NULL without one
    Column("reading", Text),  # JSON: the screen read against its prior (jobs.store.rows)
    PrimaryKeyConstraint("campaign_id", "study_pid", "model_version"),
    Index("ix_results_campaign_region", "campaign_id", "region"),
    # a person's results across campaigns: the release's budget (jobs.release.budget)
    Index("ix_results_patient", "patient_pid", "committed_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object, no PHI
    Column("seq", Integer),  # 1, 2, ... no gaps; NULL only before the chain began
    Column("mac", String(64)),  # HMAC-SHA256 under the audit key, chained (jobs.store.chain)
    Index("ix_events_campaign", "campaign_id"),
    Index("ix_events_seq", "seq", unique=True),
)

drivers = Table(
    "drivers",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),  # a random token per driver run
    Column("host", String(255), nullable=False),  # hostname and pid of the driver process
    Column("pid", Integer, nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("name", String(64), primary_key=True),  # who holds it: the audit log's operator
    Column("role", String(16), nullable=False),
    Column("token_id", String(32), nullable=False, unique=True),  # public half of the token
    Column("salt", String(64), nullable=False),
    Column("digest", String(64), nullable=False),  # HMAC-SHA256(salt, secret half), hex
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("mac", String(64)),  # HMAC-SHA256 under the service's token key (tokenkey.py)
    Column("campaigns", String(2048)),  # the scope: campaign ids, sorted, comma-joined; NULL all
    Column("last_used_at", DateTime(timezone=True)),  # when the service last admitted it (~1 min)
)

release_increments = Table(
    "release_increments",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, ... per campaign
    Column("first_commit", DateTime(timezone=True), nullable=False),
    Column("last_commit", DateTime(timezone=True), nullable=False),  # the next one starts after
    Column("results", Integer, nullable=False),  # results measured (one per person)
    Column("excluded", Integer, nullable=False),  # a person's further results, not measured
    Column("recoded", Integer, nullable=False),  # age band or sex outside the domain: unknown
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("campaign_id", "seq"),
)

release_measurements = Table(
    "release_measurements",
    metadata,
    Column("campaign_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("mechanism", String(32), nullable=False),  # discrete_gaussian
    Column("levels", String(128), nullable=False),  # JSON list: ["campaign", "region", "site"]
    Column("sensitivity", Float, nullable=False),  # L2, of one person in this increment
    Column("sigma", Float, nullable=False),
    Column("rho", Float, nullable=False),  # zCDP, as OpenDP accounts it
    Column("cells", Integer, nullable=False),  # noisy counts drawn
    Column("domain", Text, nullable=False),  # JSON: the public cells (codes, no people)
    PrimaryKeyConstraint("campaign_id", "seq"),
)

release_base = Table(
    "release_base",
    metadata,
    Column("campaign_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("level", String(8), nullable=False),  # campaign | region | site
    Column("region", String(64), nullable=False),  # "" at the campaign level
    Column("site", String(64), nullable=False),  # "" above the site level
    Column("age_band", String(16), nullable=False),
    Column("sex", String(16), nullable=False),
    Column("outcome", String(80), nullable=False),  # category.<c>, quarantined.<r>, opted_out
    Column("count", Integer, nullable=False),  # reconciled noisy count, > 0 (zeros not stored)
    PrimaryKeyConstraint("campaign_id", "seq", "level", "region", "site", "age_band", "sex",
                         "outcome"),
)

worklists = Table(
    "worklists",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("threshold", String(4), nullable=False),  # lowest AI category read by a reader
    Column("fraction", Float, nullable=False),  # of AI negatives sampled
    Column("seed", Integer, nullable=False),  # of the sample's hash (kernel.worklist)
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reading_tasks = Table(
    "reading_tasks",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("study_pid", String(64), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("ai_category", String(4), nullable=False),  # as the result had it when drawn
    Column("reason", String(16), nullable=False),  # threshold | incomplete | sampled
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("campaign_id", "study_pid"),
)

reading_decisions = Table(
    "reading_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), nullable=False),
    Column("study_pid", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # confirm | change | reject_finding
    Column("category", String(4), nullable=False),  # the confirmed category
    Column("rejected", String(256), nullable=False),  # JSON list of nodule numbers (1-based)
    Column("reader", String(128), nullable=False),  # the reader's id, never a patient's
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_reading_decisions_task", "campaign_id", "study_pid", "id"),
)

# Columns added after a table's first release: (table, column, DDL to add it).
ADDED_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("campaigns", "key_fingerprint",
     ("ALTER TABLE campaigns ADD COLUMN key_fingerprint VARCHAR(32)",)),
    # stores created before the audit chain: their events are sealed into it by the first
    # append (jobs.store.trail)
    ("events", "seq", ("ALTER TABLE events ADD COLUMN seq INTEGER",
                       "ALTER TABLE events ADD COLUMN mac VARCHAR(64)",
                       "CREATE UNIQUE INDEX ix_events_seq ON events (seq)")),
    # stores created before minted tokens: their rows have no MAC and are refused until
    # created again with the token key (jobs.store.tokenkey)
    ("tokens", "mac", ("ALTER TABLE tokens ADD COLUMN mac VARCHAR(64)",)),
    # stores created before scoped tokens: every row unscoped (NULL), as its MAC says
    ("tokens", "campaigns", ("ALTER TABLE tokens ADD COLUMN campaigns VARCHAR(2048)",)),
    # stores created before last-used times: never used, as far as they know
    ("tokens", "last_used_at",
     ("ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP WITH TIME ZONE",)),
    # stores created before screening rounds: their results read as baselines
    ("results", "reading", ("ALTER TABLE results ADD COLUMN exam_day VARCHAR(10)",
                            "ALTER TABLE results ADD COLUMN screening_round INTEGER",
                            "ALTER TABLE results ADD COLUMN prior_category VARCHAR(4)",
                            "ALTER TABLE results ADD COLUMN reading TEXT")),
)

# Indexes added after their table's first release: (table, index, DDL). A store without one
# is read as it is (slower); jobs.store.migrate's `ensure_schema` (a writing command, `store
# init`) adds it.
ADDED_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("results", "ix_results_patient",
     "CREATE INDEX ix_results_patient ON results (patient_pid, committed_at)"),
)
