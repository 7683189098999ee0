"""The state folder: where a deployment keeps what is not campaign data (saved specs, the
default pseudonym key), apart from the data folder, so one copied data folder never carries
both the pseudonyms and the key that re-identifies them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["default_state_dir"]


def default_state_dir(env: Mapping[str, str]) -> Path:
    """`$LUNGSCREEN_STATE_DIR`, else `$XDG_STATE_HOME/lungscreen`, else
    `~/.local/state/lungscreen` (read from `env` at the edge)."""
    if env.get("LUNGSCREEN_STATE_DIR"):
        return Path(env["LUNGSCREEN_STATE_DIR"])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")) / ".local" / "state")
    return Path(base).expanduser() / "lungscreen"
