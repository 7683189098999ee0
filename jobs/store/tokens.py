"""The service's bearer tokens: created once and shown once, kept only as salted hashes,
listed and revoked by name.

A token is `ls_<token_id>_<secret>`: the id finds the row, the secret is checked against
HMAC-SHA256(salt, secret) in constant time. Both halves are random (128 and 256 bits), so a
fast keyed hash is as strong as a slow one here and keeps every request cheap.

Only the holder of the token key (jobs.store.tokenkey: the service's, in its state folder)
mints: each row carries a MAC over its fields under that key, and `identify` refuses a row
without one or whose MAC does not verify, so store access alone makes no token.

A token may be scoped to campaigns (`campaigns`, covered by the MAC): its holder sees those
only, and the service answers any other as it answers one that does not exist.

`identify` records when a token was last admitted (`last_used_at`, not covered by the MAC:
it only informs `token list`), at most once a minute per token whatever the number of
service replicas: the row read says whether the last record is older, and the UPDATE
changes nothing when another request recorded it meanwhile. A store the service may not
write that column in (its grants not yet re-run) admits the token all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update

from jobs.store import schema as t
from jobs.store.base import StoreBase, utc_now
from jobs.store.engine import mapped_errors
from jobs.store.rows import as_utc
from jobs.store.tokenkey import TokenKey
from kernel.errors import BadInput, LungscreenError
from kernel.roles import Role

__all__ = ["Identity", "TokenInfo", "TokenRegistry"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_CAMPAIGN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # a spec's id (jobs.spec.campaign_spec)
_TOKEN = re.compile(r"^ls_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
USE_RECORDED_EVERY = timedelta(minutes=1)

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: the token's name, role and campaign scope (None: every
    campaign)."""

    name: str
    role: Role
    campaigns: frozenset[str] | None = None

    def sees(self, campaign_id: str) -> bool:
        """Whether the holder's scope covers `campaign_id`."""
        return self.campaigns is None or campaign_id in self.campaigns


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret; `token_id` alone admits nothing)."""

    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    campaigns: frozenset[str] | None = None
    token_id: str = ""
    last_used_at: datetime | None = None


def _scope(campaigns: Iterable[str] | None) -> str | None:
    """The `campaigns` column for a scope: sorted ids, comma-joined; None when unscoped."""
    if campaigns is None:
        return None
    ids = sorted({c.strip() for c in campaigns})
    bad = [c for c in ids if not _CAMPAIGN.match(c)]
    if bad or not ids:
        raise BadInput(f"campaign scope {bad[0][:64]!r} is not a campaign id; expected "
                       "lowercase letters, digits and - (a spec's id)" if bad else
                       "a campaign scope names at least one campaign id")
    return ",".join(ids)


def _campaigns(column: str | None) -> frozenset[str] | None:
    return None if column is None else frozenset(column.split(","))


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


class TokenRegistry(StoreBase):
    """Tokens in the store's `tokens` table (see the module doc)."""

    def create_token(self, name: str, role: Role, expires_at: datetime | None = None, *,
                     key: TokenKey, campaigns: Iterable[str] | None = None) -> str:
        """A new token for `name` (unique, also among revoked ones), scoped to `campaigns`
        (None: every campaign), its row MAC'd under the token `key`; returned once."""
        if not _NAME.match(name):
            raise BadInput(f"token name {name[:64]!r} is not valid; expected letters, digits "
                           "and . _ @ - (at most 64)")
        token_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        expires = None if expires_at is None else as_utc(expires_at).replace(microsecond=0)
        row = {"name": name, "role": role.value, "token_id": token_id, "salt": salt,
               "digest": _digest(salt, secret), "expires_at": expires,
               "campaigns": _scope(campaigns)}
        with self.write_transaction("creating a token") as conn:
            if conn.execute(select(t.tokens.c.name).where(t.tokens.c.name == name)).first():
                raise BadInput(f"a token named {name!r} exists already; revoke it and choose "
                               "another name (names stay in the audit log)")
            conn.execute(insert(t.tokens).values(**row, created_at=utc_now(),
                                                 mac=key.row_mac(row)))
        return f"ls_{token_id}_{secret}"

    def identify(self, token: str, key: TokenKey) -> Identity | None:
        """The holder of a valid token; None when unknown, wrong, expired or revoked, or
        when its row's MAC does not verify under the token `key` (a row not minted with
        it, or changed since)."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        with mapped_errors(self._url, "checking a token"), self._engine.connect() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.token_id == token_id)).first()
        if row is None:
            return None
        m = row._mapping
        if not hmac.compare_digest(m["digest"], _digest(m["salt"], secret)):
            return None
        if not key.verifies(dict(m)):
            return None
        if m["revoked_at"] is not None or key.revoked(token_id):
            return None
        now = utc_now()
        if m["expires_at"] is not None and as_utc(m["expires_at"]) <= now:
            return None
        last = m.get("last_used_at")
        if last is None or as_utc(last) <= now - USE_RECORDED_EVERY:
            self._record_use(token_id, now)
        return Identity(m["name"], Role(m["role"]), _campaigns(m["campaigns"]))

    def _record_use(self, token_id: str, now: datetime) -> None:
        """Set the token's `last_used_at` unless another request did within the minute."""
        c = t.tokens.c
        stale = or_(c.last_used_at.is_(None), c.last_used_at <= now - USE_RECORDED_EVERY)
        try:
            with self.write_transaction("recording a token's use") as conn:
                conn.execute(update(t.tokens).where(c.token_id == token_id, stale)
                             .values(last_used_at=now))
        except LungscreenError as exc:  # e.g. the service's role lacks the grant
            log.warning("a token's last use was not recorded: %s", type(exc).__name__)

    def tokens(self) -> list[TokenInfo]:
        """Every token, by name."""
        with mapped_errors(self._url, "listing tokens"), self._engine.connect() as conn:
            rows = conn.execute(select(t.tokens).order_by(t.tokens.c.name)).all()
        return [TokenInfo(m["name"], Role(m["role"]), as_utc(m["created_at"]),
                          as_utc(m["expires_at"]) if m["expires_at"] else None,
                          as_utc(m["revoked_at"]) if m["revoked_at"] else None,
                          _campaigns(m["campaigns"]), m["token_id"],
                          as_utc(m["last_used_at"]) if m["last_used_at"] else None)
                for m in (r._mapping for r in rows)]

    def revoke_token(self, name: str, key: TokenKey) -> None:
        """Revoke `name`'s token at once: listed beside the token `key` (what the service
        checks, out of the store's reach) and marked in its row; BadInput when there is no
        live token of that name."""
        with self.write_transaction("revoking a token") as conn:
            token_id = conn.execute(select(t.tokens.c.token_id).where(
                t.tokens.c.name == name, t.tokens.c.revoked_at.is_(None))).scalar()
            if token_id is None:
                raise BadInput(f"no live token named {name[:64]!r}; see `lungscreen token "
                               "list`")
            key.revoke(str(token_id))
            conn.execute(update(t.tokens).where(t.tokens.c.token_id == token_id)
                         .values(revoked_at=utc_now()))
