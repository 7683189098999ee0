"""Reports: aggregation per group, small-cell suppression, and the renderers."""

from jobs.report.build import Report, build_report, campaign_report
from jobs.report.formats import FORMATS, render

__all__ = [
    "FORMATS",
    "Report",
    "build_report",
    "campaign_report",
    "render",
]
