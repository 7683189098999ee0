"""The HTML report's round-over-round section: shifts from the prior screen and the
transition chart (prior category -> current category), drawn from published counts only.

The transition chart is a grid, rows the prior screen's category and columns the current
one; a cell's shade is its share of the largest published cell, a hidden cell is hatched and
says "suppressed", a combination that did not occur is empty. Only where some study of the
campaign was read against a prior (jobs.report.round_measures).
"""

from __future__ import annotations

from html import escape

from jobs.report.build import Report
from jobs.report.round_measures import SHIFTS, WITH_PRIOR
from jobs.report.svg import bar_list
from kernel.lungrads import Category

__all__ = ["rounds_section"]

_SHIFT_LABELS = {"shift.up": "category rose", "shift.same": "category unchanged",
                 "shift.down": "category fell"}


def _cell(value: int | None, present: bool, top: int) -> str:
    if not present:
        return '<td class="tr-empty"></td>'
    if value is None:
        return '<td class="s tr-hidden">suppressed</td>'
    alpha = 0.12 + 0.78 * (value / top if top else 0.0)
    ink = "#fff" if alpha > 0.55 else "#1d2733"
    return (f'<td class="tr" style="background: rgba(42, 92, 170, {alpha:.2f}); '
            f'color: {ink}">{value}</td>')


def rounds_section(report: Report) -> str:
    """The section, or "" for a campaign without priors."""
    if WITH_PRIOR not in report.measures:
        return ""
    total = report.rows_at(())[0]
    counts = total.counts
    items = [("with a prior screen", counts.get(WITH_PRIOR)),
             ("with a new nodule", counts.get("with_new_nodule")),
             ("with a growing nodule", counts.get("with_growing_nodule")),
             *((_SHIFT_LABELS[m], counts.get(m)) for m in SHIFTS)]
    grid = {m.removeprefix("transition."): counts.get(m) for m in report.measures
            if m.startswith("transition.")}
    top = max((v for v in grid.values() if v is not None), default=0)
    order = [c.value for c in Category]
    priors = [p for p in order if any(k.split(".")[0] == p for k in grid)]
    currents = [c for c in order if any(k.split(".")[1] == c for k in grid)]
    head = "".join(f"<th>{escape(c)}</th>" for c in currents)
    rows = "".join(
        f"<tr><th>{escape(p)}</th>"
        + "".join(_cell(grid.get(f"{p}.{c}"), f"{p}.{c}" in grid, top) for c in currents)
        + "</tr>" for p in priors)
    return ("<section><h2>Round over round (screens read against the prior)</h2>"
            f"{bar_list(items, 'Screens with a prior: changes and category shifts')}"
            "<h3>Lung-RADS category: prior screen (rows) to this screen (columns)</h3>"
            '<div class="scroll"><table class="transitions" aria-label="Transition chart">'
            f"<thead><tr><th>prior \\ now</th>{head}</tr></thead><tbody>{rows}</tbody>"
            "</table></div></section>")
