"""One entry to the released table's text formats (the renderers: jobs.release.formats and
jobs.release.html)."""

from __future__ import annotations

from jobs.release.derive import ReleasedTable
from jobs.release.formats import to_csv, to_json, to_table
from jobs.release.html import to_html

__all__ = ["render_released"]


def render_released(table: ReleasedTable, fmt: str) -> str:
    """The released table in a text format: table, csv, json or html (parquet is binary:
    jobs.release.formats.to_parquet)."""
    renderers = {"table": to_table, "csv": to_csv, "json": to_json, "html": to_html}
    if fmt not in renderers:
        raise ValueError(f"released tables render as text in {', '.join(renderers)}; "
                         f"not {fmt!r}")
    return renderers[fmt](table)
