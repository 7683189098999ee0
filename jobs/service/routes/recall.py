"""The authority's recall lists, re-derived from the sources and audited: who to call back
for their category (jobs.recall), and whose study needs a repeat scan or a manual read
(jobs.technical_recall)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from jobs.recall import export_recall
from jobs.service.deps import Caller, CampaignId, Config, Slot, record_release, serves
from jobs.technical_recall import export_technical_recall
from kernel.errors import BadInput, LungscreenError
from kernel.lungrads import Category
from kernel.roles import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["recall"])


@router.post("/campaigns/{campaign_id}/recall", response_class=Response,
             **serves(Role.AUTHORITY, errors=(400, 404, 409),
                      ok={"text/csv": {"schema": {"type": "string", "description":
                                                  "one row per person to call back"}}}))
def recall(request: Request, campaign_id: CampaignId, who: Caller, config: Config,
           _slot: Slot, min_category: Annotated[str, Query(
               description="the lowest Lung-RADS category recalled (3, 4A, 4B, 4X)")] = "4A",
           confirmed_only: Annotated[bool, Query(
               description="only studies a reader decided, on their confirmed category")
           ] = False) -> Response:
    """Who to call back (CSV), re-derived from the campaign's sources with its key, on
    readers' confirmed categories where they decided (jobs.recall); needs
    the campaign's spec (`serve --spec`), else 409. Expensive: shares the report's
    in-flight limit per token."""
    spec = config.specs.get(campaign_id)
    if spec is None:
        raise HTTPException(409, f"the service holds no spec for campaign {campaign_id!r}; "
                            "start it with --spec SPEC to serve recall (it reads the sources)")
    try:
        category = Category(min_category.upper())
    except ValueError:
        raise HTTPException(400, f"query parameter 'min_category': {min_category[:8]!r} is "
                            "not a Lung-RADS category (e.g. 3, 4A, 4B, 4X)") from None
    record_release(request, min_category=category.value, format="csv",
                   confirmed_only=int(confirmed_only))
    return _csv(lambda out: export_recall(spec, config.store, min_category=category, out=out,
                                          operator=who.name, env=config.env,
                                          confirmed_only=confirmed_only))


@router.post("/campaigns/{campaign_id}/recall/technical", response_class=Response,
             **serves(Role.AUTHORITY, errors=(400, 404, 409),
                      ok={"text/csv": {"schema": {"type": "string", "description":
                                                  "one row per person to re-scan or read by "
                                                  "hand, with reason and next_step"}}}))
def technical_recall(request: Request, campaign_id: CampaignId, who: Caller, config: Config,
                     _slot: Slot) -> Response:
    """The people whose study could not be read (CSV): the recall list's identity columns
    plus `reason` and `next_step` (repeat scan or manual read; kernel.next_steps). Needs
    the campaign's spec (`serve --spec`), else 409; audited; expensive like recall."""
    spec = config.specs.get(campaign_id)
    if spec is None:
        raise HTTPException(409, f"the service holds no spec for campaign {campaign_id!r}; "
                            "start it with --spec SPEC to serve recall (it reads the sources)")
    record_release(request, table="technical_recall", format="csv")
    return _csv(lambda out: export_technical_recall(spec, config.store, out=out,
                                                    operator=who.name, env=config.env))


def _csv(export: Callable[[Path], object]) -> Response:
    """Run `export` into a private temporary file; its bytes as CSV, never cached."""
    with tempfile.TemporaryDirectory(prefix="lungscreen-recall-") as tmp:
        out = Path(tmp) / "recall.csv"
        try:
            export(out)
        except BadInput as exc:
            raise HTTPException(400, str(exc)) from None
        except LungscreenError as exc:
            raise HTTPException(500, str(exc)) from None
        data = out.read_bytes()
    return Response(data, media_type="text/csv", headers={"Cache-Control": "no-store"})
