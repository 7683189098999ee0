"""`lungscreen audit verify|show`: the keyed, anchored audit trail (jobs.audit_trail)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.output import add_format
from cli.settings import required_store
from cli.store_option import add_store
from jobs.audit_trail import AUDIT_LOG, event_rows, verify_audit
from jobs.spec import default_audit_key, load_spec, store_password
from jobs.store import ResultsStore
from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.store import ResultsStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit", help="the audit trail: verify it (keyed, anchored) or show its events",
        description="Every event (requests, exports, tokens, campaign life cycle) is chained "
        "with HMAC-SHA256 under the audit key in the state folder ($LUNGSCREEN_STATE_DIR), "
        "and its head anchored there.")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check the trail: exit 0 when it verifies, 1 "
                            "naming the first bad sequence number and what is wrong")
    verify.set_defaults(func=_verify)
    show = sub.add_parser("show", help="the trail's events, oldest first")
    show.add_argument("--who", default=None,
                      help="only the events of this operator or token name")
    show.add_argument("--since", default=None, metavar="ISO",
                      help="only events at or after this ISO date/time (UTC unless it says)")
    add_format(show)
    show.set_defaults(func=_show)
    for child in (verify, show):
        where = child.add_mutually_exclusive_group()
        add_store(where, default=None, help="results store URL (default: $LUNGSCREEN_STORE, "
                  "else `store` in the state folder's config.toml)")
        where.add_argument("--spec", type=Path, default=None,
                           help="a campaign spec: its store, and its data folder's file log")
        child.add_argument("--campaign", default=None, metavar="ID",
                           help="one campaign's events (verify: the whole chain is checked, "
                           "and this campaign's file log with --spec; default the spec's)")


@contextmanager
def _opened(args: argparse.Namespace, *, with_key: bool
            ) -> Iterator[tuple[ResultsStore, Path | None, str | None]]:
    """The store (with the audit key when `with_key`: BadInput when there is none, and none
    is created), the file log and the campaign the arguments name."""
    if args.spec is None:  # --store, else LUNGSCREEN_STORE or the config file's
        args.store = required_store(args.store, os.environ, also="--spec SPEC")
    key = default_audit_key(os.environ, create=False) if with_key else None
    if args.store is not None:
        with ResultsStore.open(args.store, audit_key=key, create=False) as store:
            yield store, None, args.campaign
        return
    spec = load_spec(args.spec, check_paths=False)
    with ResultsStore.open(spec.store_url, password=store_password(spec, os.environ),
                           audit_key=key, create=False) as store:
        yield store, Path(spec.data_dir) / AUDIT_LOG, args.campaign or spec.id


def _verify(args: argparse.Namespace) -> int:
    with _opened(args, with_key=True) as (store, log_path, campaign):
        verdict = verify_audit(store, campaign_id=campaign, log_path=log_path)
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.ok:
        print(f"audit trail BROKEN at seq {verdict.first_bad_seq}: {verdict.problem}")
        return 1
    print(f"audit trail verified: {verdict.events} events, head seq {verdict.head_seq}")
    return 0


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--since {text[:40]!r}: expected an ISO date or date/time, e.g. "
                       "2027-01-31 or 2027-01-31T08:00") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _show(args: argparse.Namespace) -> int:
    since = _since(args.since)
    with _opened(args, with_key=False) as (store, _, campaign):  # reads only: no key
        rows = event_rows(store.events(campaign, who=args.who, since=since))
    if args.format == "json":
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    print(f"{'SEQ':>6} {'AT':<25} {'CAMPAIGN':<20} {'KIND':<20} {'WHO':<16} DETAIL")
    for r in rows:
        rest = {k: v for k, v in r["detail"].items() if k not in ("who", "operator")}
        print(f"{r['seq'] if r['seq'] is not None else '-':>6} {r['at']:<25} "
              f"{r['campaign'] or '-':<20} {r['kind']:<20} {r['who'] or '-':<16} "
              f"{json.dumps(rest, sort_keys=True)}")
    return 0
