"""`lungscreen scan SOURCE... [--json]`: discover studies and select a series for each."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from cli.output import add_format
from jobs.ingest.privacy import Pseudonymizer, load_or_create_key
from jobs.ingest.scan import ScanResult, scan
from jobs.ingest.sources import PASSWORD_ENV, USER_ENV, open_source, source_spec_from_text
from jobs.spec import default_state_dir
from kernel.errors import BadInput

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "scan",
        help="discover studies and select the usable series of each (headers only)",
        description=(
            "Read DICOM headers from folders or DICOMweb archives, group them into studies, "
            "and pick the one usable axial CT series per study or quarantine it with a "
            f"reason. DICOMweb credentials come from {USER_ENV} / {PASSWORD_ENV}."
        ),
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="a folder or an http(s):// URL")
    add_format(p, help="a table for a terminal (default), or json lines for tools")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--region", help="region name for every study (default: the source's name)")
    where.add_argument(
        "--region-from-path",
        action="store_true",
        help="region = first folder under the source (trees laid out REGION/...)",
    )
    p.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="pseudonym key (created once, owner-only, if missing; default: the state "
        "folder's, $LUNGSCREEN_STATE_DIR/pseudonym.key, as campaigns use)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes reading folder headers in parallel (default 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise BadInput(f"--workers {args.workers} must be 1 or more")
    env = os.environ
    sources = [open_source(source_spec_from_text(s, env), env, workers=args.workers)
               for s in args.sources]
    key_file = args.key_file or default_state_dir(env) / "pseudonym.key"
    pseudonyms = Pseudonymizer(load_or_create_key(key_file))
    result = scan(sources, pseudonyms, region=args.region, region_from_path=args.region_from_path)
    print(_as_json(result) if args.format == "json" else _as_table(result))
    return 0


def _as_json(result: ScanResult) -> str:
    lines = [json.dumps(s.to_json()) for s in result.studies]
    lines += [json.dumps(f.to_json()) for f in result.files]
    lines.append(json.dumps(result.summary.to_json()))
    return "\n".join(lines)


def _as_table(result: ScanResult) -> str:
    rows = [("STUDY", "REGION", "SITE", "OUTCOME", "SERIES / REASON", "SLICES", "SPACING mm")]
    for s in result.studies:
        spacing = "x".join(f"{v:.2f}" for v in s.spacing) if s.spacing else "-"
        what = s.series if s.series else f"{s.reason}: {s.detail}"
        rows.append((s.study, s.region, s.site, s.outcome, what or "", str(s.slices), spacing))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    ]
    if result.files:
        # pseudonymous file ids, as in --format json: real archives put PHI in file paths
        out += ["", "REJECTED FILES (pseudonymous ids)"]
        out += [f"{f.source}/{f.file_pid}: {f.reason} ({f.detail})" for f in result.files]
    m = result.summary
    quarantined = ", ".join(f"{k} {v}" for k, v in m.studies_quarantined.items()) or "none"
    rejected = ", ".join(f"{k} {v}" for k, v in m.files_rejected.items()) or "none"
    out += [
        "",
        f"files: {m.files} ({m.files_accepted} accepted; rejected: {rejected})",
        f"studies: {m.studies} ({m.studies_selected} selected; quarantined: {quarantined})",
    ]
    return "\n".join(out)
