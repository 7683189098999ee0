"""The released table as HTML: one self-contained page (inline CSS and SVG, no script, no
asset from the network), rendered by Jinja2 with autoescaping from `templates/`.

Only released numbers are drawn (counts measured once with noise, jobs.release.derive), with
the noise's parameters and what they mean beside them. The service's analysts' page extends
the same template (`released.html`), so a figure reads the same in a download and on screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from jobs.release.derive import ReleasedRow, ReleasedTable
from jobs.release.formats import privacy_json
from jobs.report.html import CATEGORY_COLOURS, CATEGORY_NAMES, MAX_CHART_ROWS, measure_label
from jobs.report.svg import Dot, Segment, StackedRow, dot_chart, legend, stacked_bars

__all__ = ["MAX_CHART_ROWS", "groupings", "measure_label", "page_context", "templates", "to_html"]

@cache
def templates() -> Environment:
    """The Jinja2 environment of the released pages: autoescaped, undefined names fail."""
    return Environment(loader=PackageLoader("jobs.release", "templates"),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _label(row: ReleasedRow) -> str:
    return " / ".join(row.key) or "all"


def _chart_rows(table: ReleasedTable) -> list[ReleasedRow]:
    """The finest groups of the table (its full `by`), then the total."""
    finest = [r for r in table.rows if r.level == table.by] if table.by else []
    return [*finest[:MAX_CHART_ROWS], table.rows[0]]


def _charts(table: ReleasedTable) -> dict[str, Markup]:
    rows = _chart_rows(table)
    cats = [m for m in table.measures if m in CATEGORY_NAMES]
    bars = [StackedRow(_label(r), r.counts["screened"],
                       tuple(Segment(CATEGORY_NAMES[m], r.counts[m], CATEGORY_COLOURS[m])
                             for m in cats)) for r in rows]
    dots = [Dot(_label(r), r.positive_rate.value, r.positive_rate.low, r.positive_rate.high,
                "no screened studies" if not r.counts["screened"] else "") for r in rows]
    dim = ", ".join(table.by) or "campaign"
    # the SVG helpers escape every text they draw
    return {
        "legend": Markup(legend([(CATEGORY_NAMES[m], CATEGORY_COLOURS[m]) for m in cats])),
        "mix": Markup(stacked_bars(bars, f"Lung-RADS category mix per {dim}")),
        "rate": Markup(dot_chart(dots, f"Positive rate per {dim} with 95% intervals")),
    }


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def page_context(table: ReleasedTable) -> dict[str, Any]:
    """What the template draws: the table's rows as text, the charts, the noise."""
    total = table.rows[0]
    rows = [{"depth": len(r.level), "label": _label(r),
             "counts": [r.counts[m] for m in table.measures],
             "rate": _pct(r.positive_rate.value),
             "ci": (f"{_pct(r.positive_rate.low)}-{_pct(r.positive_rate.high)}"
                    if r.positive_rate.low is not None else "")} for r in table.rows]
    return {
        "campaign": table.campaign_id, "by": table.by,
        "columns": [measure_label(m) for m in table.measures], "rows": rows,
        "total": {m: total.counts[m] for m in ("seen", "screened", "quarantined",
                                               "opted_out")},
        "rate": rows[0]["rate"], "ci": rows[0]["ci"],
        "charts": _charts(table), "truncated": _truncated(table),
        "privacy": privacy_json(table.privacy),
    }


def _truncated(table: ReleasedTable) -> int:
    finest = sum(1 for r in table.rows if r.level == table.by) if table.by else 0
    return max(0, finest - MAX_CHART_ROWS)


def to_html(table: ReleasedTable, extra: Mapping[str, Any] | None = None,
            template: str = "released.html") -> str:
    """The page of a released table (`extra`: more context for a template that extends
    it). The output depends only on its input: the same table renders byte for byte."""
    return templates().get_template(template).render(**page_context(table), **(extra or {}))


def groupings() -> Sequence[tuple[str, ...]]:
    """The groupings an analyst can choose, coarse to fine."""
    return (("region",), ("region", "site"), ("age_band",), ("sex",), ("age_band", "sex"),
            ("region", "age_band"), ("region", "sex"), ("region", "age_band", "sex"),
            ("region", "site", "age_band", "sex"))
