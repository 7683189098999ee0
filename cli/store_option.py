"""`--store URL` for every command that takes one: a URL carrying a password is refused as
it is parsed (a command line is shown by `ps` and kept in shell history), with the spec's
own refusal (jobs.store.urls.refuse_password), never echoing the password."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from cli.campaign_ref import add_campaign_ref, resolve_spec, spec_registry
from cli.settings import load_settings
from jobs.spec import store_password
from jobs.store import refuse_password
from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.spec import CampaignSpec

__all__ = ["add_campaign_store", "add_store", "campaign_store", "store_url"]

_PLACE = "the command line, which ps shows and the shell's history keeps"


def store_url(text: str) -> str:
    """`text` when it carries no password; an argparse error (exit 2) naming the remedy."""
    try:
        refuse_password(text, _PLACE)
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_store(parser: argparse._ActionsContainer, help: str, **kwargs: Any) -> None:
    """Add `--store URL` (checked by `store_url`) to `parser`."""
    parser.add_argument("--store", type=store_url, metavar="URL", help=help, **kwargs)


def add_campaign_store(p: argparse.ArgumentParser) -> None:
    """--store, --spec, --state-dir, --data-dir: where a campaign's store is."""
    add_store(p, default=None, help="the results store URL (default: $LUNGSCREEN_STORE, else "
              "`store` in the state folder's config.toml, else the campaign spec's)")
    add_campaign_ref(p)


def campaign_store(args: argparse.Namespace
                   ) -> tuple[str, str | None, CampaignSpec | None]:
    """The store URL, its password (None: the URL's or libpq's own) and the campaign's spec
    (None when --store alone names the store) for `add_campaign_store`'s options: --store,
    --spec, LUNGSCREEN_STORE or the config file's store, the registered spec's store."""
    if args.store is not None and args.spec is None:
        return args.store, None, None
    if args.spec is None:
        configured = _configured(args)
        if configured is not None:
            return configured
    spec = resolve_spec(args, check_paths=False)
    password = None if args.store else store_password(spec, os.environ)
    return args.store or spec.store_url, password, spec


def _configured(args: argparse.Namespace) -> tuple[str, None, CampaignSpec | None] | None:
    """LUNGSCREEN_STORE or the config file's store (cli.settings), with the campaign's
    registered spec when there is one (its threshold); None when no store is configured."""
    store = load_settings(os.environ).store
    if store is None:
        return None
    try:
        spec = spec_registry(args).load(args.campaign_id, args.data_dir)
    except BadInput:
        spec = None
    return store, None, spec
