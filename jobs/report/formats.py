"""The report's renderers: a terminal table, CSV, JSON, and (jobs.report.html) one HTML page.

Every renderer reads a `Report`, whose hidden counts are already None: none can show one.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from jobs.report.aggregate import POSITIVE, SCREENED, SEEN, TECHNICAL
from jobs.report.agreement import ReadingAgreement, agreement_text
from jobs.report.build import PENDING, STAGES, SUPPRESSED, Rate, Report, ReportRow
from jobs.report.html import to_html
from jobs.report.suppression import protection_span
from kernel.errors import BadInput

__all__ = [
    "FORMATS", "REPORT_SCHEMA_VERSION", "render", "to_csv", "to_json",
    "to_parquet", "to_table",
]

FORMATS = ("table", "csv", "json", "html")


def _fmt(v: int | None) -> str:
    return SUPPRESSED if v is None else str(v)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


REPORT_SCHEMA_VERSION = "3"
"""Of the JSON and CSV layouts; DATA_DICTIONARY.md beside this module describes them."""


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


def _level(row: ReportRow) -> str:
    """The row's grouping: "all", "region", "region+site", ..."""
    return "+".join(row.level) or "all"


def _hidden(report: Report, row: ReportRow) -> str:
    """The measures hidden in the row, `;`-separated (the CSV's and Parquet's column)."""
    return ";".join(m for m in report.measures if m in row.counts and row.counts[m] is None)


def _rates(row: ReportRow) -> dict[str, Rate]:
    """The row's rates by column stem (`<stem>_pct`, `<stem>_ci95_low_pct`, ...)."""
    return {"positive_rate": row.positive_rate,
            "technical_recall_rate": row.technical_recall_rate}


def _flat(report: Report, row: ReportRow) -> dict[str, str]:
    out = {"level": _level(row)}
    out.update({d: row.value(d) for d in report.by})
    # numeric columns hold numbers only: a hidden count is an empty cell, and the row's
    # "suppressed" column names the measures hidden in it
    out.update({m: "" if row.counts.get(m) is None else str(row.counts[m])
                for m in report.measures})
    out["suppressed"] = _hidden(report, row)
    for stem, rate in _rates(row).items():
        out[f"{stem}_pct"] = _pct(rate.value)
        out[f"{stem}_ci95_low_pct"] = _pct(rate.low)
        out[f"{stem}_ci95_high_pct"] = _pct(rate.high)
    return out


def to_csv(report: Report) -> str:
    """One row per group (`level` names its grouping), a column per measure, numbers only:
    a hidden count is an empty cell listed in the row's `suppressed` column. Throughput and
    stage timings are operational and stay out (JSON and `lungscreen status` carry them)."""
    buf = io.StringIO()
    rows = [_flat(report, r) for r in report.rows]
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def to_parquet(report: Report, path: Path) -> None:
    """The CSV's table as Parquet, typed: counts int64 with nulls where hidden, rates
    float64, the `suppressed` list as text. Needs pyarrow (`pip install 'lungscreen[parquet]'`)."""
    try:
        import pyarrow as pa  # pyarrow: parquet only
        import pyarrow.parquet as pq  # pyarrow: parquet only
    except ImportError:
        raise BadInput("--format parquet needs pyarrow: pip install 'lungscreen[parquet]'"
                       ) from None
    columns: dict[str, list[object]] = {"level": [], **{d: [] for d in report.by}}
    counts: dict[str, list[int | None]] = {m: [] for m in report.measures}
    rates: dict[str, list[float | None]] = {
        f"{stem}{end}": [] for stem in ("positive_rate", "technical_recall_rate")
        for end in ("", "_ci95_low", "_ci95_high")}
    suppressed: list[str] = []
    for row in report.rows:
        columns["level"].append(_level(row))
        for d in report.by:
            columns[d].append(row.value(d) or None)
        for m in report.measures:
            counts[m].append(row.counts.get(m))
        values = [v for r in _rates(row).values() for v in (r.value, r.low, r.high)]
        for key, value in zip(rates, values, strict=True):
            rates[key].append(value)
        suppressed.append(_hidden(report, row))
    arrays = {k: pa.array(v, pa.string()) for k, v in columns.items()}
    arrays.update({m: pa.array(v, pa.int64()) for m, v in counts.items()})
    arrays.update({k: pa.array(v, pa.float64()) for k, v in rates.items()})
    arrays["suppressed"] = pa.array(suppressed, pa.string())
    table = pa.table(arrays).replace_schema_metadata({
        "schema_version": REPORT_SCHEMA_VERSION, "campaign": report.campaign_id,
        "min_cell": str(report.min_cell), "model": report.model,
        "generated_at": _iso(report.generated_at) or ""})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def to_json(report: Report) -> str:
    """The report as JSON; hidden counts are null and listed under "suppressed"."""
    doc: dict[str, object] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "campaign": report.campaign_id,
        "generated_at": _iso(report.generated_at),
        "model": report.model or None,
        "data_period": {"first_result": _iso(report.period[0]),
                        "latest_result": _iso(report.period[1])},
        "by": list(report.by),
        "min_cell": report.min_cell,
        "protection_span": protection_span(report.min_cell),
        "hidden_cells": report.hidden_cells,
        "unaudited_cells": report.unaudited_cells,
        "studies_per_second": report.studies_per_second,
        "groups": [
            {
                "level": list(r.level),
                "key": dict(zip(r.level, r.key, strict=True)),
                "counts": dict(r.counts),
                "suppressed": sorted(m for m, v in r.counts.items() if v is None),
                **{stem: {"value": rate.value, "ci95_low": rate.low, "ci95_high": rate.high}
                   for stem, rate in _rates(r).items()},
                "mean_stage_seconds": {s: r.timing.mean(s) for s in STAGES} if r.timing else None,
            }
            for r in report.rows
        ],
    }
    if report.reading is not None:
        doc["reading"] = _reading_json(report.reading)
    return json.dumps(doc, indent=2) + "\n"


def _reading_json(a: ReadingAgreement) -> dict[str, object]:
    """The worklist's figures (DATA_DICTIONARY.md, "Reading"): hidden counts are null."""
    return {"tasks": a.tasks, "decided": a.decided, "ungraded": a.ungraded,
            "kappa": {"weights": "linear", "value": a.kappa, "n": a.kappa_n},
            "sampled_negatives": {"decided": a.sampled_decided, "missed": a.sampled_missed,
                                  "miss_rate": a.miss_rate,
                                  "ci95_low": a.miss_ci95[0] if a.miss_ci95 else None,
                                  "ci95_high": a.miss_ci95[1] if a.miss_ci95 else None}}



_TABLE_COLUMNS = (SEEN, SCREENED, "quarantined", "opted_out", "category.1", "category.2",
                  "category.3", "category.4A", "category.4B", "category.4X", POSITIVE,
                  TECHNICAL)


def to_table(report: Report) -> str:
    """A fixed-width text table of the main columns, for a terminal."""
    columns = [m for m in (*_TABLE_COLUMNS, PENDING) if m in report.measures]
    heads = ["group", *(m.removeprefix("category.").replace("technical_recall", "tech")
                        for m in columns), "pos %", "95% CI", "tech %"]
    body = []
    for r in report.rows:
        ci = (f"{_pct(r.positive_rate.low)}-{_pct(r.positive_rate.high)}"
              if r.positive_rate.low is not None else "")
        body.append([("  " * len(r.level)) + r.label,
                     *(_fmt(r.counts[m]) if m in r.counts else "" for m in columns),
                     _pct(r.positive_rate.value), ci, _pct(r.technical_recall_rate.value)])
    widths = [max(len(str(x)) for x in col) for col in zip(heads, *body, strict=True)]
    hidden = ("no count is suppressed (threshold 1)" if report.min_cell <= 1 else
              f"counts under {report.min_cell} and cells that would reveal them read "
              f"'{SUPPRESSED}'")
    lines = [f"campaign {report.campaign_id}: by {', '.join(report.by)}; {hidden}"]
    for cells in (heads, *body):
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    if report.reading is not None:
        lines.append(agreement_text(report.reading))
    return "\n".join(lines) + "\n"


def render(report: Report, fmt: str) -> str:
    """The report in `fmt`: table, csv, json or html."""
    renderers = {"table": to_table, "csv": to_csv, "json": to_json, "html": to_html}
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return renderers[fmt](report)
