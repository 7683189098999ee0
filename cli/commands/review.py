"""`lungscreen review ID [--confirm STUDY | --change STUDY --category X | --reject-finding
STUDY --nodule N]`: the reading worklist (jobs.review) — list its tasks, or record a
reader's decision on one."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cli.campaign_ref import add_campaign_ref, resolve_spec
from cli.output import add_format
from jobs.review import TaskView, WorklistView, decide, view_worklist
from jobs.review_export import export_worklist
from jobs.spec import open_spec_store, os_operator
from kernel.errors import BadInput
from kernel.lungrads import Category
from kernel.worklist import Action

__all__ = ["register", "run"]

_ACTIONS = {"confirm": Action.CONFIRM, "change": Action.CHANGE,
            "reject_finding": Action.REJECT_FINDING}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "review",
        help="readers: the reading worklist, AI findings confirmed before anyone is recalled",
        description=(
            "Without a decision: draw the campaign's reading tasks from its results and list "
            "them (study pseudonym, AI category, why it is a task, the decision so far). A "
            "task is every screen at or above --threshold (default 3), every screen the AI "
            "graded 0 (incomplete), and a seeded random sample of the AI negatives "
            "(--sample, default 0.05). The first listing records threshold, sample and seed "
            "in the store, so the sample can be checked and a resumed campaign keeps its "
            "picks. With --confirm, --change or --reject-finding: record a reader's decision "
            "on one task, appended and audited, never changing the AI result; the latest "
            "decision is the task's confirmed result, which `lungscreen recall` and "
            "`lungscreen export` follow."
        ),
    )
    p.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--confirm", metavar="STUDY",
                     help="confirm the AI category of task STUDY (its pseudonym or a unique "
                     "prefix of 8 or more)")
    act.add_argument("--change", metavar="STUDY",
                     help="change the category of task STUDY to --category")
    act.add_argument("--reject-finding", metavar="STUDY",
                     help="reject --nodule N of task STUDY; its category becomes that of the "
                     "remaining nodules unless --category says otherwise")
    p.add_argument("--category", default=None,
                   help="with --change or --reject-finding: the reader's Lung-RADS category "
                   "(0, 1, 2, 3, 4A, 4B, 4X)")
    p.add_argument("--nodule", type=int, action="append", default=[], metavar="N",
                   help="with --reject-finding: a nodule number as listed (repeat for more; "
                   "a later decision replaces the earlier one, so list them all)")
    p.add_argument("--reader", default=None,
                   help="the reader's id recorded with the decision (default: the OS "
                   "account@host)")
    p.add_argument("--threshold", default=None,
                   help="the first listing only: lowest AI category that is a task (default 3)")
    p.add_argument("--sample", type=float, default=None, metavar="FRACTION",
                   help="the first listing only: fraction of AI negatives sampled for "
                   "review (default 0.05)")
    p.add_argument("--seed", type=int, default=None,
                   help="the first listing only: the sample's seed (default: random, recorded)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="authority only: also write the tasks for the readers to FILE (CSV, "
                        "owner-only, audited), each re-identified from the sources with the "
                        "pseudonym key (patient id and name, study date, accession, "
                        "institution) so it can be opened in the PACS")
    p.add_argument("--pending", action="store_true",
                   help="list only the tasks not decided yet")
    add_format(p)
    add_campaign_ref(p)
    p.set_defaults(func=run)


def _category(text: str | None, flag: str) -> Category | None:
    if text is None:
        return None
    try:
        return Category.parse(text)
    except ValueError as exc:
        raise BadInput(f"{flag}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    chosen = [(name, getattr(args, name)) for name in _ACTIONS if getattr(args, name)]
    if not chosen and (args.category is not None or args.nodule or args.reader is not None):
        raise BadInput("--category, --nodule and --reader go with a decision: add --confirm, "
                       "--change or --reject-finding STUDY")
    if chosen and (args.threshold, args.sample, args.seed) != (None, None, None):
        raise BadInput("--threshold, --sample and --seed shape the worklist when it is first "
                       "listed; give them without a decision")
    spec = resolve_spec(args, check_paths=False)
    with open_spec_store(spec, os.environ, create=False) as store:
        if chosen:
            name, study = chosen[0]
            d = decide(store, spec.id, study, _ACTIONS[name],
                       reader=args.reader or os_operator(),
                       category=_category(args.category, "--category"), nodules=args.nodule)
            rejected = f", nodules {', '.join(map(str, d.rejected))} rejected" \
                if d.rejected else ""
            print(f"decision {d.decision_id}: study {d.study_pid} {d.action.value}, confirmed "
                  f"category {d.category.value}{rejected}, by {d.reader}; audited")
            return 0
        view = view_worklist(store, spec.id,
                             threshold=_category(args.threshold, "--threshold"),
                             fraction=args.sample, seed=args.seed)
        if args.out is not None:
            done = export_worklist(spec, store, view, out=args.out, operator=os_operator(),
                                   env=dict(os.environ), pending=args.pending)
            print(f"worklist for readers: {done.count} tasks written to {done.path} (sha256 "
                  f"{done.sha256[:12]}...); {done.not_found} not found in the sources; "
                  f"audited in {done.audit_log}", file=sys.stderr)
    _print(view, args.format, pending=args.pending)
    return 0


def _row(v: TaskView) -> dict[str, object]:
    d = v.decision
    return {"study": v.task.study_pid, "ai_category": v.task.ai_category.value,
            "reason": v.task.reason.value,
            "nodules": v.nodules_text(),
            "decided": d is not None,
            "decision": None if d is None else {
                "action": d.action.value, "category": d.category.value,
                "rejected": list(d.rejected), "reader": d.reader,
                "at": d.decided_at.isoformat(timespec="seconds")}}


def _print(view: WorklistView, fmt: str, *, pending: bool) -> None:
    rows = [_row(v) for v in view.tasks if not (pending and v.decision is not None)]
    if fmt == "json":
        print(json.dumps({"plan": {"threshold": view.plan.threshold.value,
                                   "fraction": view.plan.fraction, "seed": view.plan.seed},
                          "added": view.added, "tasks": rows}, indent=2))
        return
    print(f"worklist: {view.plan.describe()}; {len(view.tasks)} tasks ({view.added} new)")
    width = max((len(str(r["study"])) for r in rows), default=5)
    print(f"{'STUDY':<{width}} {'AI':>3} {'REASON':<10} {'DECISION':<24} NODULES")
    for row in rows:
        d = row["decision"]
        decided = "-" if not isinstance(d, dict) else f"{d['action']} -> {d['category']}"
        print(f"{row['study']!s:<{width}} {row['ai_category']!s:>3} {row['reason']!s:<10} "
              f"{decided:<24} {row['nodules']}")
    print(view.summary())
