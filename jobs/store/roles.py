"""PostgreSQL roles for a results store: what the campaign driver and the service may do.

Three roles, least privilege each (`role_grants` prints the SQL; the schema owner runs it):

- the schema owner (an administrator): creates and migrates the tables (the first
  `ResultsStore.open` with it), and is the only role that writes `tokens`
  (`lungscreen token create|revoke`, with the service's token key) or rewrites events.
- the driver (`lungscreen campaign run`, `release measure`): reads what it plans from and
  writes campaigns, the shard ledger, results, its lease and the release tables; appends
  events. No UPDATE or DELETE on events, nothing on tokens; results and release rows are
  append-only (INSERT, no UPDATE or DELETE).
- the service (`lungscreen serve`, `recall`): reads campaigns, shards, results, the release
  tables and tokens (to authenticate requests); appends events; records when a token was
  last used (UPDATE of `tokens.last_used_at` only, a column no MAC covers); appends the
  reading worklist (`review`: its plan, tasks and readers' decisions, INSERT only, so a
  decision is never changed). Nothing else.

Appending an event reads the chain's head, so both read `events`; both use the `events`
id sequence; the trail's advisory lock needs no grant. Neither opens a store that is not
migrated yet: `ResultsStore.open` issues no DDL or meta write when the schema is current.
"""

from __future__ import annotations

import re

from jobs.store import schema as t
from kernel.errors import BadInput

__all__ = ["DRIVER_TABLES", "SERVICE_TABLES", "role_grants"]

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_EVENTS_SEQ = "events_id_seq"  # SERIAL of events.id
_DECISIONS_SEQ = "reading_decisions_id_seq"  # SERIAL of reading_decisions.id

# table -> privileges beyond SELECT; a table absent from a role's map is not granted at all.
DRIVER_TABLES: dict[str, tuple[str, ...]] = {
    t.meta.name: (),
    t.campaigns.name: ("INSERT", "UPDATE"),
    t.campaign_sites.name: ("INSERT",),
    t.shards.name: ("INSERT", "UPDATE"),
    t.results.name: ("INSERT",),
    t.drivers.name: ("INSERT", "UPDATE", "DELETE"),
    t.events.name: ("INSERT",),
    t.release_increments.name: ("INSERT",),
    t.release_measurements.name: ("INSERT",),
    t.release_base.name: ("INSERT",),
}
SERVICE_TABLES: dict[str, tuple[str, ...]] = {
    t.meta.name: (),
    t.campaigns.name: (),
    t.campaign_sites.name: (),
    t.shards.name: (),
    t.results.name: (),
    t.drivers.name: (),
    t.events.name: ("INSERT",),
    t.tokens.name: ("UPDATE (last_used_at)",),  # a token's last use, nothing else of it
    t.release_increments.name: (),
    t.release_measurements.name: (),
    t.release_base.name: (),
    t.worklists.name: ("INSERT",),
    t.reading_tasks.name: ("INSERT",),
    t.reading_decisions.name: ("INSERT",),
}


def role_grants(driver_role: str, service_role: str) -> list[str]:
    """The SQL statements, in order, that give `driver_role` and `service_role` exactly
    their privileges on the store's tables (see the module doc). Run them as the schema
    owner after the owner's first open has created the tables, and again after an upgrade
    adds tables; they revoke first, so running them twice is harmless. The roles must
    exist (`CREATE ROLE ... LOGIN`); BadInput for a name that is not a plain identifier."""
    for name in (driver_role, service_role):
        if not _ROLE.match(name):
            raise BadInput(f"role name {name[:64]!r} is not valid; expected lower-case "
                           "letters, digits and _ (at most 63, not starting with a digit)")
    if driver_role == service_role:
        raise BadInput("the driver and the service need two different roles")
    both = f'"{driver_role}", "{service_role}"'
    tables = ", ".join(sorted(t.metadata.tables))
    out = [f"GRANT USAGE ON SCHEMA public TO {both}",
           f"REVOKE ALL ON {tables} FROM PUBLIC, {both}",
           f"REVOKE ALL ON SEQUENCE {_EVENTS_SEQ}, {_DECISIONS_SEQ} FROM PUBLIC, {both}"]
    for role, grants in ((driver_role, DRIVER_TABLES), (service_role, SERVICE_TABLES)):
        for table, extra in grants.items():
            out.append(f"GRANT {', '.join(('SELECT', *extra))} ON {table} TO \"{role}\"")
        out.append(f'GRANT USAGE ON SEQUENCE {_EVENTS_SEQ} TO "{role}"')
    out.append(f'GRANT USAGE ON SEQUENCE {_DECISIONS_SEQ} TO "{service_role}"')
    return out
