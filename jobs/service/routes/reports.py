"""A campaign's regional table, as JSON (the default), CSV, Parquet or HTML:
`?format=json|csv|parquet|html` or the Accept header (the query parameter wins). An analyst
gets the released table, derived from the release base; the authority the exact one,
suppressed at the threshold in force."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from jobs import release
from jobs import report as exact
from jobs.report import BelowThreshold, grouping_problem, report_threshold, threshold_in_force
from jobs.service.deps import Caller, CampaignId, Config, Slot, record_release, serves
from jobs.service.models import Report
from jobs.service.negotiate import NotAcceptable, UnknownFormat, choose
from kernel.errors import BadInput
from kernel.records import DIMENSIONS
from kernel.roles import Role

__all__ = ["MEDIA", "Grouping", "MinCell", "router"]

router = APIRouter(prefix="/api/v1", tags=["reports"])

MEDIA = {"json": "application/json", "csv": "text/csv",
         "parquet": "application/vnd.apache.parquet", "html": "text/html"}
"""Format -> media type; the first is the default."""
_DOWNLOADS = ("csv", "parquet", "html")  # sent as attachments
_EXPECTED = f"expected a comma-separated list of {', '.join(DIMENSIONS)}"


def _grouping(by: Annotated[str, Query(description=f"comma-separated, from: "
                                       f"{', '.join(DIMENSIONS)}")] = "region",
              ) -> tuple[str, ...]:
    """`by` as a tuple of distinct dimensions; 400 naming the parameter otherwise."""
    names = tuple(d.strip() for d in by.split(",") if d.strip())
    problem = grouping_problem(names)
    if problem is None:
        return names
    if problem.kind == "empty":
        raise HTTPException(400, f"query parameter 'by' is empty; {_EXPECTED}")
    if problem.kind == "unknown":
        raise HTTPException(400, f"query parameter 'by': unknown dimension "
                            f"{problem.name[:32]!r}; {_EXPECTED}")
    raise HTTPException(400, f"query parameter 'by': dimension {problem.name!r} is given "
                        f"twice; {_EXPECTED}, each once")


def _threshold(campaign_id: CampaignId, config: Config,
               min_cell: Annotated[int | None, Query(
                   ge=1, le=1000, description="the exact table's suppression threshold: "
                   "may raise the one in force, never lower it")] = None) -> int:
    """The exact table's threshold (jobs.report.threshold); 400 naming its source below."""
    spec = config.specs.get(campaign_id)
    in_force = threshold_in_force(campaign_id, spec.privacy.min_cell if spec else None,
                                  floor=config.min_cell_floor)
    try:
        return report_threshold(min_cell, in_force)
    except BelowThreshold as exc:
        raise HTTPException(400, f"query parameter 'min_cell': {exc.asked} is below "
                            f"{in_force.describe()}; a report may only suppress more, never "
                            f"less: give min_cell={in_force.value} or more, or leave it out"
                            ) from None


def _increments(increments: Annotated[str | None, Query(
        description="an analyst's period: the increments to cover, comma-separated (e.g. "
        "1,2,3; default every one); the released table only", examples=["1,2"])] = None,
        ) -> tuple[int, ...] | None:
    """The increments asked for (none or empty: every one); 400 naming the parameter for
    anything but numbers."""
    if increments is None or not increments.strip():
        return None
    parts = [x.strip() for x in increments.split(",") if x.strip()]
    if not parts or not all(x.isdigit() and len(x) < 10 for x in parts):
        raise HTTPException(400, f"query parameter 'increments': {increments[:40]!r}; "
                            "expected increment numbers, comma-separated (e.g. 1,2,3)")
    return tuple(sorted({int(x) for x in parts}))


def _media(request: Request,
           fmt: Annotated[str | None, Query(alias="format", description="json (default), "
                                            "csv, parquet or html; wins over the Accept "
                                            "header")] = None,
           ) -> str:
    """A key of MEDIA, from `format` or the Accept header; 400 / 406 otherwise."""
    try:
        return choose(MEDIA, fmt, request.headers.get("accept"))
    except UnknownFormat:
        raise HTTPException(400, f"query parameter 'format': unknown format {str(fmt)[:16]!r}; "
                            f"expected one of {', '.join(MEDIA)}") from None
    except NotAcceptable:
        raise HTTPException(406, "the Accept header names no media type this route serves; "
                            f"it serves {', '.join(MEDIA.values())} (or give "
                            f"?format= one of {', '.join(MEDIA)})") from None


@router.get("/campaigns/{campaign_id}/report", response_model=Report,
            **serves(Role.AUTHORITY, Role.ANALYST, errors=(400, 404, 406, 409),
                     ok={"text/csv": {"schema": {"type": "string"},
                                      "example": "level,region,seen,...\n"},
                         "application/vnd.apache.parquet": {
                             "schema": {"type": "string", "format": "binary"}},
                         "text/html": {"schema": {"type": "string"}}}))
def report(request: Request, campaign_id: CampaignId, who: Caller, config: Config,
           grouping: Annotated[tuple[str, ...], Depends(_grouping)],
           min_cell: Annotated[int, Depends(_threshold)],
           media: Annotated[str, Depends(_media)], _slot: Slot,
           increments: Annotated[tuple[int, ...] | None, Depends(_increments)] = None,
           ) -> Response:
    """The campaign's table by `by`. An analyst gets the released table: derived from
    the release base (counts measured once per increment with discrete Gaussian noise,
    zCDP), in the report's shape (`groups`: level, key, counts) plus a `privacy` object
    (mechanism, sigma, rho per increment, the budget per person, the increments used);
    409 until an increment is measured. The authority gets the exact table with
    small-cell suppression at the threshold in force: the deployment's floor or the
    campaign's `min_cell`, whichever is higher (`min_cell` may only raise it). `increments`
    picks an analyst's period (whole increments); the exact table covers every result.
    Reports are expensive: at most `expensive_in_flight` per token at once, then 429 with
    Retry-After."""
    by = ",".join(grouping)
    if who.role is Role.ANALYST:
        period = ",".join(map(str, increments)) if increments else "all"
        record_release(request, by=by, format=media, table="released", increments=period)
        try:
            table = release.released_table(config.store, campaign_id, by=grouping,
                                           increments=increments)
        except BadInput as exc:
            raise HTTPException(409, str(exc)) from None
        body = (release.to_parquet(table) if media == "parquet"
                else release.render_released(table, media))
    else:
        if increments is not None:
            raise HTTPException(400, "query parameter 'increments': the exact table covers "
                                "every result; increments pick a released table's period")
        record_release(request, by=by, min_cell=min_cell, format=media, table="exact")
        built = exact.campaign_report(config.store, campaign_id, by=grouping, min_cell=min_cell)
        body = _exact_parquet(built) if media == "parquet" else exact.render(built, media)
    headers = {"Vary": "Accept"}
    if media in _DOWNLOADS:
        headers["Content-Disposition"] = (f'attachment; filename="{campaign_id}-by-'
                                          f'{"-".join(grouping)}.{media}"')
    return Response(body, media_type=MEDIA[media], headers=headers)


def _exact_parquet(built: exact.Report) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lungscreen-report-") as tmp:
        path = Path(tmp) / "report.parquet"
        exact.to_parquet(built, path)
        return path.read_bytes()


# the validated `by`, `min_cell` and `increments` query parameters, as the pages share them
Grouping = Annotated[tuple[str, ...], Depends(_grouping)]
MinCell = Annotated[int, Depends(_threshold)]
Increments = Annotated[tuple[int, ...] | None, Depends(_increments)]
