"""`lungscreen export ID --format sr|fhir --out DIR`: the authority's clinical export, one DICOM
SR (TID 1500) per screened study, attached to the person's real study, or one FHIR R4 Bundle
per study for the programme register."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.campaign_ref import add_campaign_ref, resolve_spec
from cli.client import add_server, client_for
from jobs.clinical import Sent, export_fhir, export_sr, stow_sr
from jobs.spec import open_spec_store, os_operator
from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["register", "run"]

FORMATS = ("sr", "fhir")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="authority only: results into clinical systems (DICOM SR or FHIR per study)",
        description=(
            "Match the campaign's screened studies back to the people's real studies in the "
            "sources (with the pseudonym key) and write one DICOM Structured Report (TID "
            "1500) per study into DIR as <n>.dcm, owner-only: UNVERIFIED, or VERIFIED on "
            "the confirmed result where a reader decided the study (lungscreen review). "
            "Every export is written to the audit log (<data_dir>/audit.log); "
            "re-running replaces the same reports (same SOP Instance UIDs)."
            " --format fhir writes one FHIR R4 transaction Bundle per study for the "
            "programme register instead, as <n>.json: Patient and ImagingStudy by the real "
            "ids, the algorithm, a preliminary DiagnosticReport, the Lung-RADS category and "
            "one Observation per nodule; sending a bundle twice changes nothing."
        ),
    )
    p.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    p.add_argument("--format", choices=FORMATS, default="sr",
                   help="sr: DICOM SR TID 1500 measurement reports for the PACS; fhir: FHIR "
                        "R4 Bundles (JSON) for the programme register")
    p.add_argument("--out", type=Path,
                   help="the folder to write the reports to (created owner-only)")
    p.add_argument("--stow", metavar="URL",
                   help="send the reports to the PACS at this DICOMweb root with STOW-RS "
                        "(credentials from LUNGSCREEN_PACS_USER and LUNGSCREEN_PACS_PASSWORD, "
                        "or LUNGSCREEN_PACS_TOKEN); reports the PACS already holds are not "
                        "sent again")
    add_campaign_ref(p)
    add_server(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if client_for(args, os.environ) is not None:
        raise BadInput("export runs where the campaign's store and pseudonym key are (the "
                       "authority's machine); the service does not serve it yet: drop "
                       "--server")
    if args.out is None and args.stow is None:
        raise BadInput("export needs --out DIR (files) or --stow URL (the PACS), or both")
    spec = resolve_spec(args)
    if args.format == "fhir":
        if args.stow is not None or args.out is None:
            raise BadInput("--format fhir writes bundles to --out DIR; --stow sends SRs only")
        return _run_fhir(spec, args)
    env = dict(os.environ)
    with open_spec_store(spec, os.environ, create=False) as store:
        if args.out is not None:
            done = export_sr(spec, store, out=args.out, operator=os_operator(), env=env)
            print(f"SR export: {done.count} reports written to {done.folder} "
                  f"(sha256 {done.sha256[:12]}...); {done.not_found} not found in the "
                  f"sources, {done.unselectable} no longer selectable; audited in "
                  f"{done.audit_log}")
        if args.stow is not None:
            return _stow(spec, store, args.stow, env)
    return 0


def _stow(spec: CampaignSpec, store: ResultsStore, url: str, env: dict[str, str]) -> int:
    """STOW-RS to the PACS; 1 when a study's report failed (re-running sends only those)."""
    sent = stow_sr(spec, store, url=url, operator=os_operator(), env=env)
    print(f"SR STOW to {sent.root}: {sent.count(Sent.STORED)} stored, "
          f"{sent.count(Sent.PRESENT)} already stored, {sent.count(Sent.FAILED)} failed; "
          f"{sent.not_found} not found in the sources, {sent.unselectable} no longer "
          f"selectable; audited in {sent.audit_log}")
    for o in sent.outcomes:
        if o.sent is Sent.FAILED:
            print(f"  report {o.number}: failed, {o.why}", file=sys.stderr)
    if sent.count(Sent.FAILED):
        print("run the export again: reports the PACS holds are skipped", file=sys.stderr)
        return 1
    return 0


def _run_fhir(spec: CampaignSpec, args: argparse.Namespace) -> int:
    """--format fhir: one FHIR R4 Bundle per screened study, for the programme register."""
    with open_spec_store(spec, os.environ, create=False) as store:
        done = export_fhir(spec, store, out=args.out, operator=os_operator(),
                           env=dict(os.environ))
    print(f"FHIR export: {done.count} bundles written to {done.folder} "
          f"(sha256 {done.sha256[:12]}...); {done.not_found} not found in the sources, "
          f"{done.unselectable} no longer selectable; audited in {done.audit_log}")
    return 0
