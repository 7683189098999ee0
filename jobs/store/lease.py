"""One driver per campaign: a lease row in the store, taken before a run and renewed while
it runs.

A second `lungscreen campaign run|resume` of a campaign whose driver is alive is refused
with the driver's host and pid (the shards it would run are already being run). A lease is
free again when its holder released it, when it was not renewed for `ttl_s` (a driver on
another machine that died), or when its holder is a process on this machine that no longer
exists (a driver killed with SIGKILL: `campaign resume` takes over at once). Taking a lease
is a compare-and-set on the row, so two drivers starting together cannot both win.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import RowMapping, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jobs.store import schema as t
from jobs.store.rows import as_utc
from jobs.store.store import ResultsStore
from kernel.errors import BadInput, LungscreenError

__all__ = ["CampaignBusy", "DriverLease"]

log = logging.getLogger("jobs")

DEFAULT_TTL_S = 300.0  # covers a long discovery before the first renewal


class CampaignBusy(BadInput):
    """Another live driver holds the campaign."""


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this host and is not a zombie (killed, not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: existence is all we know
    return stat[stat.rfind(")") + 2 :][:1] != "Z"


class DriverLease:
    """The lease of `campaign_id` for this process: `acquire()`, `renew()` now and then
    (at most every ttl/4 does a write), `release()` at the end."""

    def __init__(self, store: ResultsStore, campaign_id: str, ttl_s: float = DEFAULT_TTL_S,
                 *, host: str | None = None, pid: int | None = None) -> None:
        self._store = store
        self._campaign = campaign_id
        self._ttl = timedelta(seconds=ttl_s)
        self._host = (host or socket.gethostname())[:255]
        self._pid = os.getpid() if pid is None else pid
        self.holder = secrets.token_hex(16)
        self._renewed: datetime | None = None

    def acquire(self) -> None:
        """Take the lease; CampaignBusy when a live driver holds it."""
        now = datetime.now(UTC)
        c = t.drivers.c
        mine = {"holder": self.holder, "host": self._host, "pid": self._pid, "renewed_at": now}
        with self._store.write_transaction("taking the campaign's driver lease") as conn:
            row = conn.execute(select(t.drivers).where(c.campaign_id == self._campaign)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t.drivers).values(campaign_id=self._campaign, **mine))
                except IntegrityError:
                    raise self._busy("another driver", None) from None
            else:
                m = row._mapping
                if not self._free(m, now):
                    raise self._busy(m["host"], m["pid"])
                taken = conn.execute(
                    update(t.drivers)
                    .where(and_(c.campaign_id == self._campaign, c.holder == m["holder"]))
                    .values(**mine)
                ).rowcount
                if taken != 1:
                    raise self._busy("another driver", None)
        self._renewed = now

    def renew(self) -> None:
        """Keep the lease; CampaignBusy when another driver took it meanwhile (this one was
        stalled for longer than the lease lasts): this driver must stop."""
        now = datetime.now(UTC)
        if self._renewed is not None and now - self._renewed < self._ttl / 4:
            return
        c = t.drivers.c
        with self._store.write_transaction("renewing the campaign's driver lease") as conn:
            kept = conn.execute(
                update(t.drivers)
                .where(and_(c.campaign_id == self._campaign, c.holder == self.holder))
                .values(renewed_at=now)
            ).rowcount
        if kept != 1:
            raise CampaignBusy(f"campaign {self._campaign!r}: another driver took over this "
                               "run's lease (it was not renewed in time); stopping this driver")
        self._renewed = now

    def release(self) -> None:
        """Give the lease back. A store that fails now is logged, not raised (the run's own
        outcome matters more): the lease then lapses as a dead driver's does."""
        c = t.drivers.c
        try:
            with self._store.write_transaction("releasing the campaign's driver lease") as conn:
                conn.execute(delete(t.drivers).where(
                    and_(c.campaign_id == self._campaign, c.holder == self.holder)))
        except LungscreenError as exc:
            log.warning("campaign %s: driver lease not released (%s); it lapses in %.0f s",
                        self._campaign, type(exc).__name__, self._ttl.total_seconds())
        self._renewed = None

    def _free(self, row: RowMapping, now: datetime) -> bool:
        if now - as_utc(row["renewed_at"]) > self._ttl:
            return True
        return row["host"] == self._host and row["pid"] != self._pid and not _alive(row["pid"])

    def _busy(self, host: str, pid: int | None) -> CampaignBusy:
        who = host if pid is None else f"process {pid} on {host}"
        return CampaignBusy(
            f"campaign {self._campaign!r} is being run by {who}; wait for it to finish, or "
            f"stop it (`lungscreen campaign cancel`); a driver that died frees the campaign "
            f"after {self._ttl.total_seconds():.0f} s")
