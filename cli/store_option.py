"""`--store URL` for every command that takes one: a URL carrying a password is refused as
it is parsed (a command line is shown by `ps` and kept in shell history), with the spec's
own refusal (jobs.store.urls.refuse_password), never echoing the password."""

from __future__ import annotations

import argparse
from typing import Any

from kernel.errors import BadInput

__all__ = ["add_store", "store_url"]

_PLACE = "the command line, which ps shows and the shell's history keeps"


def store_url(text: str) -> str:
    """`text` when it carries no password; an argparse error (exit 2) naming the remedy."""
    from jobs.store.urls import refuse_password

    try:
        refuse_password(text, _PLACE)
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_store(parser: argparse._ActionsContainer, help: str, **kwargs: Any) -> None:
    """Add `--store URL` (checked by `store_url`) to `parser`."""
    parser.add_argument("--store", type=store_url, metavar="URL", help=help, **kwargs)
