"""Renderers of a released table: a terminal table, CSV, JSON, HTML (jobs.release.html) and
Parquet. Each names the noise (the JSON's `privacy` object, the table's first line, the CSV's
and Parquet's columns and metadata, the HTML's section); the output depends only on the
table, so the same request renders byte for byte the same."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jobs.release.derive import Privacy, ReleasedRow, ReleasedTable
from kernel.errors import BadInput

__all__ = ["RELEASE_FORMATS", "RELEASE_SCHEMA_VERSION", "privacy_json", "to_csv", "to_json",
           "to_parquet", "to_table"]

RELEASE_FORMATS = ("table", "csv", "json", "html", "parquet")
"""Every format; all but parquet are text (jobs.release.render.render_released)."""
RELEASE_SCHEMA_VERSION = "released-1"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def _level(row: ReleasedRow) -> str:
    return "+".join(row.level) or "all"


def privacy_json(p: Privacy) -> dict[str, Any]:
    """The `privacy` object: mechanism, sigma and rho per increment, the increments used."""
    return {
        "mechanism": p.mechanism,
        "unit": "one person's result per increment",
        "sigma": p.sigma,
        "rho": p.rho,
        "rho_total": sum(rho for _, _, rho in p.increments),
        "rho_total_per_person": p.rho_total_per_person,
        "increments": [{"increment": seq, "sigma": sigma, "rho": rho}
                       for seq, sigma, rho in p.increments],
    }


def to_json(table: ReleasedTable) -> str:
    """The released table in the report's JSON shape (`groups`: level, key, counts) plus
    `privacy`."""
    doc = {
        "schema_version": RELEASE_SCHEMA_VERSION,
        "campaign": table.campaign_id,
        "released": True,
        "by": list(table.by),
        "privacy": privacy_json(table.privacy),
        "measures": list(table.measures),
        "groups": [
            {
                "level": list(r.level),
                "key": dict(zip(r.level, r.key, strict=True)),
                "counts": {m: r.counts[m] for m in table.measures},
                "positive_rate": {"value": r.positive_rate.value,
                                  "ci95_low": r.positive_rate.low,
                                  "ci95_high": r.positive_rate.high},
            }
            for r in table.rows
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _columns(table: ReleasedTable) -> dict[str, list[Any]]:
    """The CSV's columns, typed: group values (None where the row is coarser), counts,
    rates as fractions."""
    cols: dict[str, list[Any]] = {"level": [_level(r) for r in table.rows]}
    for d in table.by:
        cols[d] = [r.key[r.level.index(d)] if d in r.level else None for r in table.rows]
    for m in table.measures:
        cols[m] = [r.counts[m] for r in table.rows]
    cols["positive_rate"] = [r.positive_rate.value for r in table.rows]
    cols["positive_rate_ci95_low"] = [r.positive_rate.low for r in table.rows]
    cols["positive_rate_ci95_high"] = [r.positive_rate.high for r in table.rows]
    return cols


def to_parquet(table: ReleasedTable) -> bytes:
    """The table as a Parquet file: a column per group dimension and measure, rates as
    fractions, and the `privacy` object (JSON) and schema version in the file's metadata.
    Needs pyarrow (`pip install 'lungscreen[parquet]'`)."""
    try:
        import pyarrow as pa  # pyarrow: parquet only
        import pyarrow.parquet as pq  # pyarrow: parquet only
    except ImportError:
        raise BadInput("parquet needs pyarrow: pip install 'lungscreen[parquet]'") from None
    cols = _columns(table)
    types = {"level": pa.string(), **{d: pa.string() for d in table.by},
             **{m: pa.int64() for m in table.measures}}
    arrays = {k: pa.array(v, types.get(k, pa.float64())) for k, v in cols.items()}
    data = pa.table(arrays).replace_schema_metadata({
        "schema_version": RELEASE_SCHEMA_VERSION, "campaign": table.campaign_id,
        "by": ",".join(table.by), "privacy": json.dumps(privacy_json(table.privacy))})
    buf = io.BytesIO()
    pq.write_table(data, buf)
    return buf.getvalue()


def to_csv(table: ReleasedTable) -> str:
    """One row per group, a column per measure; sigma and rho in every row's columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["level", *table.by, *table.measures, "positive_rate_pct",
                     "positive_rate_ci95_low_pct", "positive_rate_ci95_high_pct",
                     "noise_sigma", "rho_per_increment", "rho_total_per_person",
                     "increments"])
    p = table.privacy
    seqs = ";".join(str(seq) for seq, _, _ in p.increments)
    for r in table.rows:
        writer.writerow([_level(r), *(r.key[r.level.index(d)] if d in r.level else ""
                                      for d in table.by),
                         *(r.counts[m] for m in table.measures),
                         _pct(r.positive_rate.value), _pct(r.positive_rate.low),
                         _pct(r.positive_rate.high),
                         "" if p.sigma is None else repr(p.sigma),
                         "" if p.rho is None else repr(p.rho),
                         "" if p.rho_total_per_person is None else repr(p.rho_total_per_person),
                         seqs])
    return buf.getvalue()


_COLUMNS = ("seen", "screened", "quarantined", "opted_out", "category.1", "category.2",
            "category.3", "category.4A", "category.4B", "category.4X", "positive")


def to_table(table: ReleasedTable) -> str:
    """A fixed-width text table of the main columns, for a terminal."""
    p = table.privacy
    heads = ["group", *(m.removeprefix("category.") for m in _COLUMNS), "pos %", "95% CI"]
    body = []
    for r in table.rows:
        ci = (f"{_pct(r.positive_rate.low)}-{_pct(r.positive_rate.high)}"
              if r.positive_rate.low is not None else "")
        body.append([("  " * len(r.level)) + (" / ".join(r.key) or "all"),
                     *(str(r.counts.get(m, 0)) for m in _COLUMNS),
                     _pct(r.positive_rate.value), ci])
    widths = [max(len(x) for x in col) for col in zip(heads, *body, strict=True)]
    sigma = "varies" if p.sigma is None else f"{p.sigma:.3g}"
    rho = "varies" if p.rho is None else f"{p.rho:g}"
    seqs = ",".join(str(seq) for seq, _, _ in p.increments)
    total = "varies" if p.rho_total_per_person is None else f"{p.rho_total_per_person:g}"
    lines = [f"campaign {table.campaign_id}: by {', '.join(table.by) or 'campaign'}; released "
             f"counts: {p.mechanism} noise, sigma {sigma}, rho {rho} per increment "
             f"(zCDP), budget {total} per person, increments {seqs}"]
    for cells in (heads, *body):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    return "\n".join(lines) + "\n"
