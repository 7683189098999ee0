"""Inline SVG charts for the HTML report, drawn from published (suppressed) numbers only.

A hidden count is never drawn to scale: where a bar's total is published, the part its
hidden pieces take together (derivable from published numbers anyway) is one hatched
"suppressed" segment; where the total itself is hidden there is no bar, only the word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["HATCH", "Dot", "Segment", "StackedRow", "axis_ticks", "bar_list", "dot_chart", "legend",
           "stacked_bars"]

HATCH = "url(#hatch)"
_DEFS = ('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
         'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceff3"/>'
         '<line x1="0" y1="0" x2="0" y2="6" stroke="#9aa4b1" stroke-width="2"/></pattern></defs>')
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
LABEL_W = 200
ROW_H = 30


@dataclass(frozen=True)
class Segment:
    """One piece of a stacked bar: a published count, or the hidden remainder (HATCH)."""

    label: str
    value: int
    colour: str


@dataclass(frozen=True)
class StackedRow:
    """A bar: its label, total (None when hidden) and segments in order."""

    label: str
    total: int | None
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Dot:
    """A point estimate with its interval (all in [0, 1]); value None when hidden."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    note: str = ""


def _label_width(labels: Iterable[str]) -> int:
    """The label column's width for `labels` (about 7 units a character at 13 px), from
    LABEL_W up to 360, so "region-0 / other / 80-84 / unknown" is not cut off."""
    longest = max((len(label) for label in labels), default=0)
    return max(LABEL_W, min(360, 7 * longest + 16))


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (f'<svg role="img" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px" {_FONT} font-size="13">'
            f"<title>{escape(title)}</title>{_DEFS}{body}</svg>")


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def _suppressed(x: float, y: float) -> str:
    return _text(x, y, "suppressed", fill="#6b7380", font_style="italic")


def stacked_bars(rows: Sequence[StackedRow], title: str, width: int = 760,
                 proportional: bool = True) -> str:
    """Horizontal stacked bars; each bar fills the width (`proportional`) or scales to the
    largest published total."""
    lw = _label_width(r.label for r in rows)
    width += lw - LABEL_W  # the plot keeps its width
    plot_w = width - lw - 70
    biggest = max((r.total for r in rows if r.total), default=1)
    parts: list[str] = []
    for i, row in enumerate(rows):
        y = 8 + i * ROW_H
        parts.append(_text(lw - 8, y + 17, row.label, text_anchor="end"))
        if row.total is None:
            parts.append(_suppressed(lw + 4, y + 17))
            continue
        if row.total == 0:
            parts.append(_text(lw + 4, y + 17, "0", fill="#6b7380"))
            continue
        full = plot_w if proportional else plot_w * row.total / biggest
        x = float(lw)
        for seg in row.segments:
            if seg.value <= 0:
                continue
            w = full * seg.value / row.total
            tip = f"{row.label}: {seg.label} {seg.value} of {row.total}"
            if seg.colour == HATCH:
                tip = f"{row.label}: {seg.value} in suppressed cells"
            parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="22" '
                         f'fill="{seg.colour}" stroke="#fff" stroke-width="1">'
                         f"<title>{escape(tip)}</title></rect>")
            if w > 34 and seg.colour != HATCH:
                parts.append(_text(x + w / 2, y + 17, str(seg.value), text_anchor="middle",
                                   fill="#fff" if _dark(seg.colour) else "#1f2630"))
            x += w
        parts.append(_text(x + 6, y + 17, f"{row.total}", fill="#4a5260"))
    return _svg(width, 16 + len(rows) * ROW_H, "".join(parts), title)


def _dark(colour: str) -> bool:
    if not colour.startswith("#") or len(colour) != 7:
        return False
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 150


_STEPS = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25)


def axis_ticks(top: float) -> tuple[float, int]:
    """(step, count): round percent ticks 0, step, ..., count x step covering `top` (a
    fraction), at most 5 steps: 0-20% by 5s, 0-50% by 10s, never 19, 38, 57%."""
    for step in _STEPS:
        count = max(1, -int(-min(top, 1.0) // step))  # ceil
        if count <= 5:
            return step, count
    return 0.25, 4


def dot_chart(dots: Sequence[Dot], title: str, width: int = 760) -> str:
    """Proportions as dots with interval whiskers on a 0..max axis, in percent."""
    lw = _label_width(d.label for d in dots)
    width += lw - LABEL_W  # the plot keeps its width
    plot_w = width - lw - 120
    top = max((d.high for d in dots if d.high is not None), default=0.1)
    step, ticks = axis_ticks(top)
    scale = step * ticks
    parts: list[str] = []
    axis_y = 16 + len(dots) * ROW_H
    for k in range(ticks + 1):
        frac = step * k
        x = lw + plot_w * k / ticks
        parts.append(f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{axis_y}" stroke="#e3e7ec"/>')
        parts.append(_text(x, axis_y + 16, f"{100 * frac:g}%", text_anchor="middle",
                           fill="#6b7380", font_size="11"))
    for i, d in enumerate(dots):
        y = 8 + i * ROW_H + 13
        parts.append(_text(lw - 8, y + 4, d.label, text_anchor="end"))
        if d.value is None or d.low is None or d.high is None:
            parts.append(_suppressed(lw + 4, y + 4) if not d.note else
                         _text(lw + 4, y + 4, d.note, fill="#6b7380", font_style="italic"))
            continue
        x0, x1 = (lw + plot_w * v / scale for v in (d.low, d.high))
        xv = lw + plot_w * d.value / scale
        tip = (f"{d.label}: {100 * d.value:.1f}% (95% CI {100 * d.low:.1f}-"
               f"{100 * d.high:.1f}%)")
        parts.append(f'<g><title>{escape(tip)}</title>'
                     f'<line x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" stroke="#27408b" '
                     f'stroke-width="2"/>'
                     f'<line x1="{x0:.1f}" y1="{y - 6}" x2="{x0:.1f}" y2="{y + 6}" '
                     f'stroke="#27408b" stroke-width="2"/>'
                     f'<line x1="{x1:.1f}" y1="{y - 6}" x2="{x1:.1f}" y2="{y + 6}" '
                     f'stroke="#27408b" stroke-width="2"/>'
                     f'<circle cx="{xv:.1f}" cy="{y}" r="5" fill="#d9480f"/></g>')
        parts.append(_text(lw + plot_w + 12, y + 4,
                           f"{100 * d.value:.1f}% ({100 * d.low:.0f}-{100 * d.high:.0f})",
                           fill="#1f2630"))
    return _svg(width, axis_y + 26, "".join(parts), title)


def bar_list(items: Sequence[tuple[str, int | None]], title: str, colour: str = "#5b7bb5",
             width: int = 760) -> str:
    """One horizontal bar per item scaled to the largest; hidden items say "suppressed"."""
    lw = _label_width(label for label, _ in items)
    width += lw - LABEL_W  # the plot keeps its width
    plot_w = width - lw - 70
    biggest = max((v for _, v in items if v), default=1)
    parts: list[str] = []
    for i, (label, value) in enumerate(items):
        y = 8 + i * ROW_H
        parts.append(_text(lw - 8, y + 17, label, text_anchor="end"))
        if value is None:
            parts.append(_suppressed(lw + 4, y + 17))
            continue
        w = plot_w * value / biggest
        parts.append(f'<rect x="{lw}" y="{y + 2}" width="{w:.1f}" height="22" rx="2" '
                     f'fill="{colour}"><title>{escape(f"{label}: {value}")}</title></rect>')
        parts.append(_text(lw + w + 6, y + 17, str(value), fill="#4a5260"))
    return _svg(width, 16 + len(items) * ROW_H, "".join(parts), title)


def legend(entries: Sequence[tuple[str, str]]) -> str:
    """An HTML legend of (label, colour) swatches."""
    spans = []
    for label, colour in entries:
        style = ("background:repeating-linear-gradient(45deg,#eceff3 0 3px,#9aa4b1 3px 5px)"
                 if colour == HATCH else f"background:{colour}")
        spans.append(f'<span class="key"><i style="{style}"></i>{escape(label)}</span>')
    return f'<div class="legend">{"".join(spans)}</div>'
