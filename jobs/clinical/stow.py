"""`stow_sr`: the campaign's DICOM SRs sent to the radiologists' PACS with STOW-RS.

Sent with dicomweb-client over a requests session that carries the PACS's credentials (from
the environment: `LUNGSCREEN_PACS_TOKEN` as a bearer token, or `LUNGSCREEN_PACS_USER` and
`LUNGSCREEN_PACS_PASSWORD` for basic auth; never in the URL) and retries connection errors,
429 and 5xx with exponential backoff (urllib3; a STOW of the same instance twice stores it
once, so POSTs are retried too).

Idempotent per study and model version: a report's SOP Instance UID is derived from the
study's pseudonym, the model version and the key, and before sending it the PACS is asked
(QIDO-RS, within the person's study) whether it already holds that instance; if so nothing is
sent. Each study ends with one outcome: stored, already stored, or failed with a reason.

Like the file export, this is the authority's alone and audited: `sr_stow` (destination,
counts, digest) before anything leaves, `sr_stow_done` (outcome counts) after. Messages,
logs and the audit name the PACS's root and the reports' numbers (<n>: rank by pseudonym),
never a UID: dicomweb-client's own log lines (which carry URLs) are kept at WARNING.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from dicomweb_client.api import DICOMwebClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jobs.clinical.export import match_campaign, sr_bytes, sr_report
from jobs.reidentify import audit_event, audit_first
from kernel.errors import BadInput

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from jobs.spec.campaign_spec import CampaignSpec
    from jobs.store import ResultsStore

__all__ = ["PACS_ENV", "Sent", "StowOutcome", "StowReport", "pacs_session", "send_report",
           "stow_sr"]

log = logging.getLogger("jobs")
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)  # its debug lines carry UIDs

PACS_ENV = ("LUNGSCREEN_PACS_TOKEN", "LUNGSCREEN_PACS_USER", "LUNGSCREEN_PACS_PASSWORD")
_RETRY_STATUS = (429, 500, 502, 503, 504)


class Sent(StrEnum):
    STORED = "stored"
    PRESENT = "already stored"
    FAILED = "failed"


@dataclass(frozen=True)
class StowOutcome:
    """One study's outcome: report number, what happened, and why it failed (no PHI)."""

    number: int
    sent: Sent
    why: str = ""


@dataclass(frozen=True)
class StowReport:
    """What a STOW run did (no PHI)."""

    root: str
    outcomes: tuple[StowOutcome, ...]
    not_found: int
    unselectable: int
    audit_log: Path

    def count(self, sent: Sent) -> int:
        return sum(o.sent is sent for o in self.outcomes)


def pacs_root(url: str) -> str:
    """The DICOMweb root as messages may name it; BadInput for credentials in the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"--stow needs the PACS's DICOMweb root as an http(s) URL, e.g. "
                       f"https://pacs.example/dicom-web; got {parts.scheme or 'no'} scheme")
    if parts.username or parts.password:
        raise BadInput("--stow: put the PACS's credentials in LUNGSCREEN_PACS_USER and "
                       "LUNGSCREEN_PACS_PASSWORD (or LUNGSCREEN_PACS_TOKEN), not in the URL")
    return url.rstrip("/")


def pacs_session(env: Mapping[str, str], *, attempts: int = 4,
                 backoff_s: float = 0.5) -> requests.Session:
    """A session with the PACS's credentials from `env` and retries with backoff."""
    session = requests.Session()
    token = env.get("LUNGSCREEN_PACS_TOKEN", "")
    user, password = env.get("LUNGSCREEN_PACS_USER", ""), env.get("LUNGSCREEN_PACS_PASSWORD", "")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    elif user or password:
        if not (user and password):
            raise BadInput("--stow: set both LUNGSCREEN_PACS_USER and LUNGSCREEN_PACS_PASSWORD")
        session.auth = (user, password)
    n = attempts - 1
    retry = Retry(total=n, connect=n, read=n, status=n, other=0, backoff_factor=backoff_s,
                  status_forcelist=_RETRY_STATUS, allowed_methods=frozenset({"GET", "POST"}),
                  raise_on_status=False, respect_retry_after_header=True)
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(max_retries=retry))
    return session


class _Unreachable(Exception):
    """The PACS cannot be reached: the remaining studies are not tried."""


def _refused(root: str, status: int) -> BadInput:
    return BadInput(f"PACS {root} refused access (HTTP {status}); set LUNGSCREEN_PACS_USER "
                    "and LUNGSCREEN_PACS_PASSWORD, or LUNGSCREEN_PACS_TOKEN")


def send_report(client: DICOMwebClient, report: Dataset, root: str) -> tuple[Sent, str]:
    """Ask whether the PACS holds the report; store it if not. Errors are mapped without
    their text (requests' messages carry URLs, and so UIDs)."""
    try:
        held = client.search_for_instances(
            study_instance_uid=str(report.StudyInstanceUID),
            search_filters={"SOPInstanceUID": str(report.SOPInstanceUID)})
        if held:
            return Sent.PRESENT, ""
        answer = client.store_instances([report])
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403):
            raise _refused(root, status) from None
        return Sent.FAILED, f"HTTP {status}"
    except requests.RequestException as exc:
        raise _Unreachable(type(exc).__name__) from None
    failed = answer.get("FailedSOPSequence") or []
    if failed:
        reason = failed[0].get("FailureReason")
        return Sent.FAILED, f"refused by the PACS (failure reason {reason})"
    return Sent.STORED, ""


def stow_sr(spec: CampaignSpec, store: ResultsStore, *, url: str, operator: str,
            env: Mapping[str, str], session: requests.Session | None = None) -> StowReport:
    """Send one SR per screened study of campaign `spec` to the PACS at DICOMweb root `url`
    (STOW-RS), skipping those it already holds; audited before and after. Studies are
    matched, built and sent one at a time: a national campaign's reports are never held
    together (the digest of what was sent is in the closing audit event)."""
    root = pacs_root(url)
    session = session or pacs_session(env)
    matching = match_campaign(spec, store, env)
    audit_path = audit_first(spec, store, "sr_stow", "export --stow", {
        "operator": operator, "count": len(matching.due), "format": "sr",
        "destination": root})
    client = DICOMwebClient(root, session=session, timeout=60)
    client.set_http_retry_params(retry=False)  # the session's urllib3 Retry does it
    outcomes: list[StowOutcome] = []
    digests = hashlib.sha256()
    stop: BadInput | _Unreachable | None = None
    for m in matching.studies():
        if stop is not None:  # the PACS refused or is gone: the rest are counted, not sent
            outcomes.append(StowOutcome(m.number, Sent.FAILED, _why(stop)))
            continue
        report = sr_report(m)
        digests.update(hashlib.sha256(sr_bytes(report)).digest())
        try:
            sent, why = send_report(client, report, root)
        except (BadInput, _Unreachable) as exc:
            stop = exc
            sent, why = Sent.FAILED, _why(exc)
        outcomes.append(StowOutcome(m.number, sent, why))
    outcomes.sort(key=lambda o: o.number)
    done = StowReport(root, tuple(outcomes), matching.not_found, matching.unselectable,
                      audit_path)
    audit_event(store, audit_path, spec.id, "sr_stow_done", {
        "operator": operator, "destination": root, "not_found": done.not_found,
        "unselectable": done.unselectable, "output_sha256": digests.hexdigest(),
        **{s.name.lower(): done.count(s) for s in Sent}})
    log.info("SR STOW to %s: campaign %s, %d stored, %d already stored, %d failed", root,
             spec.id, done.count(Sent.STORED), done.count(Sent.PRESENT), done.count(Sent.FAILED))
    if isinstance(stop, BadInput):
        raise stop
    return done


def _why(stop: BadInput | _Unreachable) -> str:
    return "refused access" if isinstance(stop, BadInput) else f"PACS unreachable ({stop})"
