"""Reports: aggregation per group, small-cell suppression, and the renderers; the grouping
check (`grouping_problem`, `parse_by`) and the suppression threshold in force."""

from jobs.report.aggregate import aggregate, grouping_problem
from jobs.report.build import Report, build_report, campaign_report, parse_by
from jobs.report.formats import FORMATS, render, to_parquet
from jobs.report.threshold import (
    BelowThreshold,
    Threshold,
    report_threshold,
    threshold_in_force,
)

__all__ = [
    "FORMATS",
    "BelowThreshold",
    "Report",
    "Threshold",
    "aggregate",
    "build_report",
    "campaign_report",
    "grouping_problem",
    "parse_by",
    "render",
    "report_threshold",
    "threshold_in_force",
    "to_parquet",
]
