"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

It shows what an analyst looks for first: the Lung-RADS mix per group, the positive rate
with its 95% interval, progress, quarantine reasons and nodule sizes, then the full table.
Only the published numbers of a `Report` are drawn; hidden counts read "suppressed".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from jobs.report.aggregate import CATEGORY_MEASURES, SIZE_MEASURES, TECHNICAL_MEASURES
from jobs.report.agreement import agreement_text
from jobs.report.build import PENDING, SUPPRESSED, Report, ReportRow
from jobs.report.html_rounds import rounds_section
from jobs.report.html_style import CSS
from jobs.report.svg import (
    HATCH,
    Dot,
    Segment,
    StackedRow,
    bar_list,
    dot_chart,
    legend,
    stacked_bars,
)

__all__ = ["CATEGORY_COLOURS", "CATEGORY_NAMES", "MAX_CHART_ROWS", "measure_label",
           "suppression_sentence", "to_html"]

MAX_CHART_ROWS = 40
"""Groups drawn in a chart; a finer table is shown in full below it."""
QUARANTINE_COLOUR = "#7048e8"  # apart from every Lung-RADS colour

CATEGORY_COLOURS = {
    "category.0": "#9aa4b1", "category.1": "#2f9e44", "category.2": "#8ccf7e",
    "category.3": "#f2c94c", "category.4A": "#f08c00", "category.4B": "#d9480f",
    "category.4X": "#a61e4d", "category.missing": "#495057",
}
CATEGORY_NAMES = {
    "category.0": "0 incomplete", "category.1": "1 negative", "category.2": "2 benign",
    "category.3": "3 probably benign", "category.4A": "4A suspicious",
    "category.4B": "4B very suspicious", "category.4X": "4X", "category.missing": "missing",
}
PROGRESS = (("screened", "screened", "#2f6fb5"),
            ("quarantined", "quarantined", QUARANTINE_COLOUR),
            ("opted_out", "opted out", "#868e96"), (PENDING, "pending", "#dee2e6"))

def measure_label(measure: str) -> str:
    """A column's words: "4A suspicious", "slice gap", "opted out", "4-6 mm"."""
    if measure in CATEGORY_NAMES:
        return CATEGORY_NAMES[measure]
    if measure.startswith("largest_nodule."):
        size = measure.removeprefix("largest_nodule.")
        return "no nodule" if size == "none" else f"{size} mm"
    if measure.startswith("technical_recall."):
        return measure.removeprefix("technical_recall.").replace("_", " ")
    return measure.removeprefix("quarantined.").replace("_", " ")


def suppression_sentence(min_cell: int) -> str:
    """What the threshold hides, in words (none at 1, "counts of 1" at 2)."""
    if min_cell <= 1:
        return "No count is suppressed (threshold 1)."
    hidden = "Counts of 1" if min_cell == 2 else f"Counts from 1 to {min_cell - 1}"
    return f"{hidden}, and the cells that would let one work them out, are suppressed"


def _groups(report: Report) -> tuple[str, list[ReportRow]]:
    """The grouping the table is split by (e.g. "region, site") and its finest rows, at
    most MAX_CHART_ROWS of them, for the charts."""
    if not report.by:
        return ("campaign", report.rows_at(()))
    return (", ".join(report.by), report.rows_at(report.by)[:MAX_CHART_ROWS])


def _stack(row: ReportRow, total_measures: Sequence[str],
           pieces: Sequence[tuple[str, str, str]]) -> StackedRow:
    parts = [row.counts.get(m) for m in total_measures]
    total = None if any(p is None for p in parts) else sum(p or 0 for p in parts)
    segments = []
    shown = 0
    for measure, label, colour in pieces:
        value = row.counts.get(measure)
        if value is not None:
            segments.append(Segment(label, value, colour))
            shown += value
    if total is not None and total > shown:
        segments.append(Segment(SUPPRESSED, total - shown, HATCH))
    return StackedRow(row.label, total, tuple(segments))


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _fmt(v: int | None) -> str:
    return SUPPRESSED if v is None else f"{v:,}"


def _cards(report: Report) -> str:
    total = report.rows_at(())[0]
    rate = total.positive_rate
    rate_text = (f"{100 * rate.value:.1f}%" if rate.value is not None
                 else "n/a" if total.counts.get("screened") == 0 else SUPPRESSED)
    ci = (f"positive (3+), 95% CI {100 * rate.low:.1f}-{100 * rate.high:.1f}%"
          if rate.low is not None and rate.high is not None else "positive (3+)")
    cards = [_card(_fmt(total.counts.get("seen")), "studies seen"),
             _card(_fmt(total.counts.get("screened")), "screened"),
             _card(_fmt(total.counts.get("quarantined")), "quarantined"),
             _card(_fmt(total.counts.get("opted_out")), "opted out"),
             _card(rate_text, ci), _technical_card(total)]
    if PENDING in report.measures:
        cards.append(_card(_fmt(total.counts.get(PENDING)), "pending"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _technical_card(total: ReportRow) -> str:
    rate = total.technical_recall_rate
    count = _fmt(total.counts.get(TECHNICAL_MEASURES[0]))
    if rate.value is None or rate.low is None or rate.high is None:
        return _card(count, "technical recall: repeat scan or manual read")
    return _card(f"{100 * rate.value:.1f}%", f"technical recall ({count}), 95% CI "
                 f"{100 * rate.low:.1f}-{100 * rate.high:.1f}%")


def _category_section(report: Report, dim: str, rows: list[ReportRow]) -> str:
    measures = [m for m in CATEGORY_MEASURES if m in report.measures]
    if "category.missing" in report.measures:
        measures.append("category.missing")
    pieces = [(m, CATEGORY_NAMES[m], CATEGORY_COLOURS[m]) for m in measures]
    bars = [_stack(r, ["screened"], pieces) for r in (*rows, *report.rows_at(()))]
    keys = [(CATEGORY_NAMES[m], CATEGORY_COLOURS[m]) for m in measures] + [(SUPPRESSED, HATCH)]
    return (f"<section><h2>Lung-RADS category mix per {escape(dim)}</h2>{legend(keys)}"
            f"{stacked_bars(bars, f'Lung-RADS category mix per {dim}')}"
            '<p class="note">Each bar is the screened studies of the group (its count at the '
            "right). Hatched: categories whose counts are suppressed, shown together.</p>"
            "</section>")


def _rate_section(dim: str, rows: list[ReportRow], total: ReportRow) -> str:
    dots = []
    for r in (*rows, total):
        note = "no screened studies" if r.counts.get("screened") == 0 else ""
        rate = r.positive_rate
        dots.append(Dot(r.label, rate.value, rate.low, rate.high, note))
    return (f"<section><h2>Positive rate (Lung-RADS 3 and up) per {escape(dim)}</h2>"
            f"{dot_chart(dots, f'Positive rate per {dim} with 95% confidence intervals')}"
            '<p class="note">Dot: share of screened studies in category 3, 4A, 4B or 4X; '
            "whiskers: Wilson 95% confidence interval. Suppressed where its counts are."
            "</p></section>")


def _progress_section(report: Report, dim: str, rows: list[ReportRow]) -> str:
    has_pending = PENDING in report.measures
    pieces = [p for p in PROGRESS if has_pending or p[0] != PENDING]
    totals = ["seen", PENDING] if has_pending else ["seen"]
    bars = [_stack(r, totals, pieces) for r in rows or report.rows_at(())]
    title = "Progress" if has_pending else "Outcomes"
    return (f"<section><h2>{title} per {escape(dim)}</h2>"
            f"{legend([(p[1], p[2]) for p in pieces] + [(SUPPRESSED, HATCH)])}"
            f"{stacked_bars(bars, f'{title} per {dim}', proportional=False)}"
            "</section>")


def _reason_section(report: Report) -> str:
    total = report.rows_at(())[0]
    reasons = [m for m in report.measures if m.startswith("quarantined.")]
    if not reasons:
        return ("<section><h2>Quarantine reasons</h2><p class=\"note\">No study was "
                "quarantined.</p></section>")
    items = [(m.removeprefix("quarantined.").replace("_", " "), total.counts.get(m))
             for m in reasons]
    return ("<section><h2>Quarantine reasons (all studies)</h2>"
            f"{bar_list(items, 'Quarantine reasons', colour=QUARANTINE_COLOUR)}</section>")


def _size_section(report: Report) -> str:
    total = report.rows_at(())[0]
    items = [(m.removeprefix("largest_nodule.").replace("none", "no nodule") + (
        " mm" if m != "largest_nodule.none" else ""), total.counts.get(m)) for m in SIZE_MEASURES]
    return ("<section><h2>Largest nodule per screened study (mean diameter)</h2>"
            f"{bar_list(items, 'Largest nodule size distribution', colour='#5b7bb5')}</section>")


def _table(report: Report, measures: Sequence[str], title: str, rates: bool) -> str:
    names = [measure_label(m) for m in measures]
    heads = ["group", *names, *(("positive %", "95% CI") if rates else ())]
    body = []
    for r in report.rows:
        # the full group, not only its last value: rows of region / sex read apart
        name = " / ".join(r.key) if r.key else "all"
        cells = [f"<td>{'&nbsp;' * 3 * len(r.level)}{escape(name)}</td>"]
        for m in measures:
            v = r.counts.get(m)
            cells.append("<td></td>" if m not in r.counts else
                         '<td class="s">suppressed</td>' if v is None else f"<td>{v}</td>")
        rate = r.positive_rate
        if rates:
            cells.append(f"<td>{100 * rate.value:.1f}</td>" if rate.value is not None
                         else "<td></td>")
            cells.append(f"<td>{100 * rate.low:.1f}-{100 * rate.high:.1f}</td>"
                         if rate.low is not None and rate.high is not None else "<td></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    return (f'<section><h2>{escape(title)}</h2><div class="scroll"><table><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")


def _tables(report: Report) -> str:
    main = [m for m in ("seen", "screened", "quarantined", "opted_out", PENDING,
                        *CATEGORY_MEASURES, "category.missing", "positive")
            if m in report.measures]
    reasons = [m for m in report.measures if m.startswith("quarantined.")]
    return (_table(report, main, "Outcomes and Lung-RADS categories", rates=True)
            + _table(report, [*TECHNICAL_MEASURES, *reasons, *SIZE_MEASURES],
                     "Technical recall, quarantine reasons and largest nodule (mm)",
                     rates=False))


def _when(t: datetime | None) -> str:
    return "unknown" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def _provenance(report: Report) -> str:
    first, latest = report.period
    period = ("no results yet" if latest is None else
              f"results committed {_when(first)} to {_when(latest)}")
    parts = [f"Generated {_when(report.generated_at)}", period]
    if report.model:
        parts.append(f"model {report.model}")
    return ". ".join(parts) + "."


def _about(report: Report) -> str:
    """Definitions and the disclaimer, apart from the findings."""
    return (
        "<section><h2>About these figures</h2><dl>"
        "<dt>seen</dt><dd>studies the campaign received in the group: screened + "
        "quarantined + opted out.</dd>"
        "<dt>screened</dt><dd>studies the model read and gave a Lung-RADS v2022 category.</dd>"
        "<dt>positive</dt><dd>screened studies in Lung-RADS category 3 or above (3, 4A, 4B, "
        "4X); the rate is positive / screened with its Wilson 95% interval.</dd>"
        "<dt>quarantined</dt><dd>studies that could not be screened (reason per study, e.g. "
        "slice gap, not CT).</dd>"
        "<dt>technical recall</dt><dd>studies that need a repeat scan (e.g. lungs not "
        "covered, Lung-RADS 0, thick slices, slice gaps) or a manual read (e.g. decoding or "
        "inference failed), by reason; the rate is over screened + quarantined studies, with "
        "its Wilson 95% interval. Not CT and opted out need neither.</dd>"
        f"<dt>suppressed</dt><dd>{escape(suppression_sentence(report.min_cell))}.</dd></dl>"
        "<p class=\"note\">Automated findings from a screening model, for programme "
        "monitoring: not a diagnosis. Every positive study is read by a radiologist before "
        "any recall; figures change while a campaign runs.</p></section>"
    )


def _too_few(report: Report) -> str:
    """A notice when the threshold hides the whole campaign's mix: nothing to chart yet."""
    total = report.rows_at(())[0]
    shown = [total.counts.get(m) for m in CATEGORY_MEASURES if m in total.counts]
    if total.counts.get("screened") != 0 and not any(v for v in shown if v is not None):
        return ("<section class=\"notice\"><h2>Too few results to publish yet</h2><p>Every "
                "Lung-RADS count of this campaign is below the publication threshold "
                f"({report.min_cell}), so the charts below are empty. They fill in as more "
                "results commit.</p></section>")
    return ""


def _reading_section(report: Report) -> str:
    """The reading worklist's AI-reader agreement (jobs.report.agreement), when there is one."""
    if report.reading is None:
        return ""
    return ("<section><h2>Reading worklist: readers and the AI</h2>"
            f"<p>{escape(agreement_text(report.reading))}</p><p class=\"note\">Cohen's kappa "
            "linearly weighted over Lung-RADS 1 &lt; 2 &lt; 3 &lt; 4A &lt; 4B &lt; 4X (category 0 "
            "left out); miss rate: sampled AI negatives a reader put at 3 or above. Shown "
            "under the same small-count rule as the tables.</p></section>")


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    dim, rows = _groups(report)
    total = report.rows_at(())[0]
    by = ", ".join(report.by) or "campaign"
    sub = f"Grouped by {by}. {suppression_sentence(report.min_cell)}"
    if report.min_cell > 1:
        sub += f" ({report.hidden_cells} cells)."
    if report.unaudited_cells:
        sub += (f" {report.unaudited_cells} of them are protected by row and column rules "
                "only (too many for the full audit).")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>lungscreen report: {escape(report.campaign_id)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>Campaign {escape(report.campaign_id)}</h1><p class=\"sub\">{escape(sub)}</p>"
        f"<p class=\"sub\">{escape(_provenance(report))}</p>"
        f"{_too_few(report)}{_cards(report)}"
        f"{_category_section(report, dim, rows)}"
        f"{_rate_section(dim, rows, total)}"
        f"{_progress_section(report, dim, rows)}"
        f"{_reason_section(report)}"
        f"{_size_section(report)}"
        f"{rounds_section(report)}"
        f"{_reading_section(report)}"
        f"{_tables(report)}"
        f"{_about(report)}"
        "</main></body></html>\n"
    )
