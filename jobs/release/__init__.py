"""The analysts' release: each increment of results measured once under differential
privacy (discrete Gaussian noise over the geography tree, OpenDP), reconciled once, stored
as the base; every analyst table is derived from that base (jobs.release.derive)."""

from jobs.release.budget import Budget, BudgetExhausted
from jobs.release.derive import ReleasedTable, derive_table
from jobs.release.formats import RELEASE_FORMATS, to_parquet
from jobs.release.html import groupings, page_context
from jobs.release.measure import DEFAULT_RHO, Measured, measure_increment
from jobs.release.render import render_released
from jobs.release.tables import parse_increments, released_table

__all__ = [
    "DEFAULT_RHO",
    "RELEASE_FORMATS",
    "Budget",
    "BudgetExhausted",
    "Measured",
    "ReleasedTable",
    "derive_table",
    "groupings",
    "measure_increment",
    "page_context",
    "parse_increments",
    "released_table",
    "render_released",
    "to_parquet",
]
