"""The store's password, read where the spec says (an environment variable or a file),
never from the spec itself; the audit key, from the state folder; and the store opened
with both."""

from __future__ import annotations

import stat
from collections.abc import Mapping

from jobs.spec.campaign_spec import CampaignSpec
from jobs.spec.operator import os_operator
from jobs.spec.state import default_state_dir
from jobs.store import AuditKey, ResultsStore, TokenKey
from kernel.errors import BadInput

__all__ = ["default_audit_key", "default_token_key", "open_spec_store", "store_password"]


def store_password(spec: CampaignSpec, env: Mapping[str, str]) -> str | None:
    """The password `store_password_env` or `store_password_file` names; None when the
    spec names neither (libpq's PGPASSWORD and ~/.pgpass still apply). BadInput names
    the variable or file, never the value."""
    if spec.store_password_env:
        value = env.get(spec.store_password_env)
        if not value:
            raise BadInput(f"environment variable {spec.store_password_env} "
                           "(store_password_env) is not set; expected the store's password: "
                           f"export {spec.store_password_env}=... before running")
        return value
    path = spec.store_password_file
    if path is None:
        return None
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput(f"store_password_file {str(path)!r}: cannot read it ({why}); "
                       "expected a file holding the store's password") from None
    if info.st_mode & 0o077:
        raise BadInput(f"store_password_file {str(path)!r} is readable by group or others "
                       f"(mode {stat.S_IMODE(info.st_mode):04o}); expected owner-only "
                       f"access: run `chmod 600 {path}`")
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise BadInput(f"store_password_file {str(path)!r} is empty; expected the password "
                       "on its first line")
    return lines[0]


def default_audit_key(env: Mapping[str, str], *, create: bool = True) -> AuditKey:
    """The deployment's audit key, `<state folder>/audit.key` (jobs.spec.state), created
    once (unless `create` is False: then BadInput when missing); BadInput when others can
    read it (with the chmod fix)."""
    return AuditKey.load(default_state_dir(env), create=create)


def default_token_key(env: Mapping[str, str], *, create: bool = False) -> TokenKey:
    """The service's token key, `<state folder>/token.key` (jobs.store.tokenkey); created
    only when `create` (the service, at start; `token init`), else BadInput when missing;
    BadInput when others can read it (with the chmod fix)."""
    return TokenKey.load(default_state_dir(env), create=create)


def open_spec_store(spec: CampaignSpec, env: Mapping[str, str], *,
                    create: bool = True) -> ResultsStore:
    """The campaign's results store, opened with the password the spec points at and the
    state folder's audit key (its trail is appended to and verified with it); the events
    it appends name the OS account and host running it as their operator. `create`: as
    `ResultsStore.open` (False: an existing store only, nothing created)."""
    return ResultsStore.open(spec.store_url, password=store_password(spec, env),
                             audit_key=default_audit_key(env), operator=os_operator(),
                             create=create)
