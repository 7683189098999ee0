"""The token key: what makes a token row the service's own.

`<state>/token.key` holds 32 random bytes, owner-only (0600), apart from the store like the
audit key (jobs.store.anchor). Each token row carries MAC = HMAC-SHA256(token key, canonical
JSON of its token id, name, role, expiry, salt, digest and campaign scope), so a row written
with store access alone (an INSERT, the store's own methods without the key) or a row whose
role, expiry or scope was changed afterwards does not verify, and the service refuses it.
The scope is the row's `campaigns` (sorted ids, comma-joined; None for a token that sees
every campaign, so rows minted before scopes existed verify as they did).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.store.anchor import _create_private, _read_private
from jobs.store.rows import as_utc
from kernel.errors import BadInput

__all__ = ["TOKEN_KEY_FILE", "TokenKey"]

TOKEN_KEY_FILE = "token.key"
_KEY_BYTES = 32


@dataclass(frozen=True, repr=False)
class TokenKey:
    """The service's token key (see the module doc); never printed."""

    key: bytes

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
        return cls(_read_private(path, "token key"))

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
