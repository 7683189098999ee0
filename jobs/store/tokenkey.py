"""The token key: what makes a token row the service's own.

`<state>/token.key` holds 32 random bytes, owner-only (0600), apart from the store like the
audit key (jobs.store.anchor). Each token row carries MAC = HMAC-SHA256(token key, canonical
JSON of its token id, name, role, expiry, salt, digest and campaign scope), so a row written
with store access alone (an INSERT, the store's own methods without the key) or a row whose
role, expiry or scope was changed afterwards does not verify, and the service refuses it.
The scope is the row's `campaigns` (sorted ids, comma-joined; None for a token that sees
every campaign, so rows minted before scopes existed verify as they did).

Revocation is kept beside the key as well: `<state>/token-revocations` (owner-only, one
token id a line, append-only). The row's `revoked_at` is for people; the service refuses a
token listed there whatever the row says, so store access cannot un-revoke a token (setting
`revoked_at` back to NULL, or restoring a copy of the row with its old MAC).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.store.anchor import _create_private, _read_private
from jobs.store.rows import as_utc
from kernel.errors import BadInput

__all__ = ["REVOCATIONS_FILE", "TOKEN_KEY_FILE", "TokenKey"]

TOKEN_KEY_FILE = "token.key"
REVOCATIONS_FILE = "token-revocations"
_KEY_BYTES = 32


@dataclass(frozen=True, repr=False)
class TokenKey:
    """The service's token key (see the module doc); never printed."""

    key: bytes
    state_dir: Path | None = None  # where the revocation list lives (None: a key in memory)

    def __repr__(self) -> str:
        return "TokenKey(...)"

    @classmethod
    def load(cls, state_dir: Path, *, create: bool = False) -> TokenKey:
        """The key in `state_dir/token.key`; created once (0600, folder 0700) when `create`
        (the service does, at start). BadInput when it is missing (and not to be created),
        readable by group or others (with the chmod fix), or not 32 bytes."""
        path = Path(state_dir).expanduser().absolute() / TOKEN_KEY_FILE
        if not path.exists():
            if not create:
                raise BadInput(f"no token key at {path}; tokens are minted with the key the "
                               "service holds: run this on the service's host, with its state "
                               "folder (LUNGSCREEN_STATE_DIR), after `lungscreen token init` "
                               "or the first `lungscreen serve`")
            _create_private(path, secrets.token_bytes(_KEY_BYTES))
        return cls(_read_private(path, "token key"), path.parent)

    def _revocations(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / REVOCATIONS_FILE

    def revoke(self, token_id: str) -> None:
        """List `token_id` as revoked beside the key (created owner-only; appended)."""
        path = self._revocations()
        if path is None:
            raise BadInput("this token key has no state folder to keep revocations in; "
                           "load it with TokenKey.load(state folder)")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as fh:
            fh.write(f"{token_id}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def revoked(self, token_id: str) -> bool:
        """Whether `token_id` is on the revocation list beside the key. A list readable by
        group or others is refused (BadInput, with the chmod fix), as the key is."""
        path = self._revocations()
        if path is None or not path.exists():
            return False
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise BadInput(f"token revocation list {str(path)!r} is readable by group or "
                           f"others (mode {mode:04o}); run `chmod 600 {path}`")
        return token_id in path.read_text(encoding="ascii").split()

    def row_mac(self, row: Mapping[str, Any]) -> str:
        """HMAC-SHA256 over a token row's token id, name, role, expiry (UTC ISO seconds),
        salt, digest and campaign scope (`campaigns`, None when unscoped), as sorted-key
        JSON; hex."""
        expires = row["expires_at"]
        body = json.dumps({"token_id": row["token_id"], "name": row["name"],
                           "role": row["role"], "salt": row["salt"], "digest": row["digest"],
                           "expires_at": None if expires is None
                           else as_utc(expires).isoformat(timespec="seconds"),
                           "campaign": row.get("campaigns")},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self.key, b"lungscreen token row " + body.encode(),
                        hashlib.sha256).hexdigest()

    def verifies(self, row: Mapping[str, Any]) -> bool:
        """Whether the row's `mac` is its row MAC (constant time); False when it has none."""
        mac = row.get("mac")
        return bool(mac) and hmac.compare_digest(self.row_mac(row), str(mac))
