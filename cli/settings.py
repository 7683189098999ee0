"""Where the CLI finds its results store and its service when no flag names them.

Precedence, first found wins: the flag (`--store`, `--server`), the environment
(`LUNGSCREEN_STORE`, `LUNGSCREEN_SERVER`), the config file `<state folder>/config.toml`
(`store = "..."`, `server = "..."`), then the command's own default (a campaign's spec, or
none). A store URL carrying a password is refused wherever it comes from, as on the command
line: the environment is readable by the user's other processes and the file is copied.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jobs.spec import default_state_dir
from jobs.store import refuse_password
from kernel.errors import BadInput

__all__ = ["CONFIG_FILE", "SERVER_ENV", "STORE_ENV", "Settings", "load_settings",
           "required_store"]

CONFIG_FILE = "config.toml"
STORE_ENV = "LUNGSCREEN_STORE"
SERVER_ENV = "LUNGSCREEN_SERVER"
_KEYS = ("store", "server")


@dataclass(frozen=True)
class Settings:
    """The defaults of `--store` and `--server` (None: not configured), and where each came
    from, for messages."""

    store: str | None = None
    server: str | None = None
    store_from: str = ""
    server_from: str = ""

    def store_or(self, flag: str | None) -> str | None:
        """`flag` when given, else the configured store."""
        return flag if flag is not None else self.store

    def server_or(self, flag: str | None) -> str | None:
        """`flag` when given, else the configured server."""
        return flag if flag is not None else self.server


def _config(path: Path) -> dict[str, str]:
    """The file's `store` and `server`; BadInput for a file that is not TOML, an unknown key
    or a value that is not a string."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"config file {str(path)!r} is not valid TOML ({exc}); expected lines "
                       'such as store = "sqlite:///..." and server = "https://..."') from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise BadInput(f"config file {str(path)!r}: unknown key {unknown[0][:32]!r}; it "
                       f"takes {' and '.join(_KEYS)}")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise BadInput(f"config file {str(path)!r}: {key} must be a non-empty string "
                           f'(e.g. {key} = "...")')
    return {k: v.strip() for k, v in data.items()}


def load_settings(env: Mapping[str, str]) -> Settings:
    """The configured store and server, from `env` and the state folder's config file."""
    path = default_state_dir(env) / CONFIG_FILE
    found = _config(path)
    store, store_from = found.get("store"), f"store in {path}"
    server, server_from = found.get("server"), f"server in {path}"
    if env.get(STORE_ENV, "").strip():
        store, store_from = env[STORE_ENV].strip(), STORE_ENV
    if env.get(SERVER_ENV, "").strip():
        server, server_from = env[SERVER_ENV].strip(), SERVER_ENV
    if store is not None:
        refuse_password(store, f"{store_from}, which other processes or copies can read")
    return Settings(store, server, store_from if store else "", server_from if server else "")


def required_store(flag: str | None, env: Mapping[str, str], *, also: str = "") -> str:
    """`flag`, else the configured store; BadInput naming the ways to give one (`also`: the
    command's own, e.g. "--spec SPEC")."""
    store = flag if flag is not None else load_settings(env).store
    if store is None:
        flags = f"--store URL or {also}" if also else "--store URL"
        raise BadInput(f"no results store named: give {flags}, set {STORE_ENV}, or write "
                       f'store = "URL" in {default_state_dir(env) / CONFIG_FILE}')
    return store
