"""`lungscreen status`: a terminal view of campaigns from the results store.

    snapshot = Snapshotter(targets, triton_urls).take()     # reads the store(s), probes Triton
    print(render_text(snapshot))                             # or render_json(snapshot)
    watch(Snapshotter(...).take, sys.stdout, interval_s=2)   # live, until Ctrl-C

Per campaign: state, a progress bar per region, throughput, ETA, deadline and the rate it
needs, quarantines by reason; then Triton readiness per URL. Throughput is measured over
the refreshes of a live view (committed studies over the last minute); a single snapshot
uses the driver's own figure when its exporter is given (`metrics_url`), else the store's
average since the first commit.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from prometheus_client.parser import text_string_to_metric_families

from kernel.progress import CampaignProgress
from monitoring.health import probe_ready

__all__ = [
    "CampaignView",
    "Snapshot",
    "Snapshotter",
    "StatusTarget",
    "render_json",
    "render_text",
    "watch",
]

FINISHED = frozenset({"done", "cancelled"})
"""Campaign states after which nothing changes: status stops watching them."""
_RATE_WINDOW_S = 60.0
_BAR = 24


@dataclass(frozen=True)
class StatusTarget:
    """Where to read campaigns: `read()` returns their progress (one store, some ids)."""

    read: Callable[[], Sequence[CampaignProgress]]


@dataclass(frozen=True)
class CampaignView:
    """One campaign as shown: its progress plus the derived pace."""

    progress: CampaignProgress
    throughput: float | None  # studies/s, None when unknown
    throughput_source: str  # "live", "driver", "average" or "none"

    @property
    def eta_s(self) -> float | None:
        if self.progress.studies_remaining == 0:
            return 0.0
        if not self.throughput:
            return None
        return self.progress.studies_remaining / self.throughput

    def required_rate(self, now: float) -> float | None:
        due = self.progress.deadline
        if due is None:
            return None
        return self.progress.studies_remaining / max(due - now, 1.0)


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    campaigns: tuple[CampaignView, ...]
    triton: tuple[tuple[str, bool], ...] = ()
    errors: tuple[str, ...] = ()


@dataclass
class Snapshotter:
    """Takes snapshots; keeps a short history of counts to measure throughput live."""

    targets: Sequence[StatusTarget]
    triton_urls: Sequence[str] = ()
    metrics_url: str | None = None
    clock: Callable[[], float] = time.time
    _history: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)

    def take(self) -> Snapshot:
        now = self.clock()
        campaigns: list[CampaignProgress] = []
        errors: list[str] = []
        for target in self.targets:
            try:
                campaigns.extend(target.read())
            except Exception as exc:  # show what failed, keep showing the rest
                errors.append(f"cannot read campaigns: {exc}")
        driver_rates = self._driver_rates(errors)
        views = [self._view(c, now, driver_rates) for c in campaigns]
        triton = tuple((url, probe_ready(url)) for url in self.triton_urls)
        return Snapshot(now, tuple(views), triton, tuple(errors))

    def _view(self, c: CampaignProgress, now: float, driver: dict[str, float]) -> CampaignView:
        if c.state in FINISHED:  # its pace is history: the average over its commits
            average = c.average_throughput()
            return CampaignView(c, average, "average" if average is not None else "none")
        history = self._history.setdefault(c.campaign, deque())
        history.append((now, c.studies_done))
        while len(history) > 2 and history[1][0] <= now - _RATE_WINDOW_S:
            history.popleft()
        t0, done0 = history[0]
        if now - t0 >= 5.0 and c.studies_done >= done0:
            return CampaignView(c, (c.studies_done - done0) / (now - t0), "live")
        if c.campaign in driver:
            return CampaignView(c, driver[c.campaign], "driver")
        average = c.average_throughput()
        if average is not None and c.state == "running":
            return CampaignView(c, average, "average")
        return CampaignView(c, None, "none")

    def _driver_rates(self, errors: list[str]) -> dict[str, float]:
        if not self.metrics_url:
            return {}
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as response:
                text = response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"exporter {self.metrics_url} unreachable ({exc})")
            return {}
        rates: dict[str, float] = {}
        for fam in text_string_to_metric_families(text):
            if fam.name == "lungscreen_throughput_studies_per_second":
                for s in fam.samples:
                    rates[s.labels.get("campaign", "")] = float(s.value)
        return rates


def render_text(snapshot: Snapshot) -> str:
    """The snapshot for people: one block per campaign, then Triton health."""
    lines = [f"lungscreen status  {_clock(snapshot.taken_at)}"]
    if not snapshot.campaigns:
        lines.append("no campaigns in the store")
    for view in snapshot.campaigns:
        lines.append("")
        lines.extend(_campaign_lines(view, snapshot.taken_at))
    if snapshot.triton:
        lines.append("")
        lines.append("Triton")
        for url, ready in snapshot.triton:
            lines.append(f"  {url:<32} {'ready' if ready else 'NOT READY'}")
    lines.extend(f"! {e}" for e in snapshot.errors)
    return "\n".join(lines)


def _campaign_lines(view: CampaignView, now: float) -> list[str]:
    c = view.progress
    lines = [
        f"{c.campaign}  [{c.state}]  {c.studies_done}/{c.studies_planned} studies  "
        f"shards {c.shards_done}/{c.shards_planned}"
    ]
    width = max((len(r.region) for r in c.regions), default=6)
    for r in c.regions:
        share = r.studies_done / r.studies_planned if r.studies_planned else 1.0
        filled = round(share * _BAR)
        bar = "#" * filled + "-" * (_BAR - filled)
        quarantined = r.outcomes.get("quarantined", 0)
        lines.append(
            f"  {r.region:<{width}} [{bar}] {share:6.1%}  {r.studies_done}/{r.studies_planned}"
            + (f"  quarantined {quarantined}" if quarantined else "")
        )
    if c.state in FINISHED:
        took = (c.updated_at - c.started_at if c.started_at is not None
                and c.updated_at is not None else None)
        pace = (f", {view.throughput:.3g} studies/s on average"
                if view.throughput is not None else "")
        lines.append(f"  {c.state}: {c.studies_done} studies in {_duration(took)}{pace}"
                     if took is not None else f"  {c.state}")
    else:
        pace = (f"{view.throughput:.3f} studies/s ({view.throughput_source})"
                if view.throughput is not None else "measuring (first shards not in)")
        lines.append(f"  throughput {pace}   ETA {_duration(view.eta_s)}")
    needed = view.required_rate(now)
    if needed is not None and c.deadline is not None:
        verdict = ""
        if view.throughput is not None and c.studies_remaining:
            verdict = "  on track" if view.throughput >= needed else "  BEHIND"
        lines.append(f"  deadline {_clock(c.deadline)}: needs {needed:.3f} studies/s{verdict}")
    reasons = _sum_reasons(c)
    if reasons:
        lines.append("  quarantines: " + ", ".join(f"{k} {v}" for k, v in reasons))
    return lines


def render_json(snapshot: Snapshot) -> str:
    """The snapshot for scripts: one JSON object (no PHI: counts by region and reason)."""
    out: dict[str, Any] = {
        "taken_at": _iso(snapshot.taken_at),
        "campaigns": [_campaign_json(v, snapshot.taken_at) for v in snapshot.campaigns],
        "triton": [{"url": url, "ready": ready} for url, ready in snapshot.triton],
        "errors": list(snapshot.errors),
    }
    return json.dumps(out, sort_keys=True)


def _campaign_json(view: CampaignView, now: float) -> dict[str, Any]:
    c = view.progress
    return {
        "id": c.campaign,
        "state": c.state,
        "studies_planned": c.studies_planned,
        "studies_done": c.studies_done,
        "shards_planned": c.shards_planned,
        "shards_done": c.shards_done,
        "throughput_studies_per_s": view.throughput,
        "throughput_source": view.throughput_source,
        "eta_s": view.eta_s,
        "deadline": _iso(c.deadline) if c.deadline is not None else None,
        "required_studies_per_s": view.required_rate(now),
        "quarantines": dict(_sum_reasons(c)),
        "regions": [
            {"region": r.region, "studies_planned": r.studies_planned,
             "studies_done": r.studies_done, "shards_planned": r.shards_planned,
             "shards_done": r.shards_done, "outcomes": dict(r.outcomes),
             "quarantines": dict(r.quarantines)}
            for r in c.regions
        ],
    }


def watch(
    take: Callable[[], Snapshot],
    out: TextIO,
    *,
    interval_s: float = 2.0,
    once: bool = False,
    as_json: bool = False,
    clear: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    max_refreshes: int | None = None,
) -> int:
    """Print snapshots every `interval_s` until Ctrl-C, until every campaign shown has
    finished (done or cancelled: nothing more will change), or once; returns 0.

    `clear` redraws in place (a terminal); otherwise snapshots follow each other (JSON: one
    object per line).
    """
    if clear and not as_json:
        return _watch_live(take, out, interval_s=interval_s, once=once, sleep=sleep,
                           max_refreshes=max_refreshes)
    shown = 0
    try:
        while True:
            snapshot = take()
            out.write((render_json(snapshot) if as_json else render_text(snapshot)) + "\n")
            out.flush()
            shown += 1
            if once or _settled(snapshot) or (max_refreshes is not None
                                              and shown >= max_refreshes):
                return 0
            if not as_json:
                out.write("\n")
            sleep(interval_s)
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()
        return 0


def _watch_live(take: Callable[[], Snapshot], out: TextIO, *, interval_s: float, once: bool,
                sleep: Callable[[float], None], max_refreshes: int | None) -> int:
    """The text view redrawn in place on a terminal (rich's Live: no full-screen clear,
    no flicker, and the last view stays on screen after Ctrl-C)."""
    from rich.console import Console  # rich: the live view only
    from rich.live import Live  # rich: the live view only
    from rich.text import Text  # rich: the live view only

    console = Console(file=out, highlight=False, force_terminal=True)
    shown = 0
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                snapshot = take()
                live.update(Text(render_text(snapshot)), refresh=True)
                shown += 1
                if once or _settled(snapshot) or (max_refreshes is not None
                                                  and shown >= max_refreshes):
                    return 0
                sleep(interval_s)
        except KeyboardInterrupt:
            return 0


def _settled(snapshot: Snapshot) -> bool:
    """Every campaign shown has finished, and nothing failed to read."""
    return (bool(snapshot.campaigns) and not snapshot.errors
            and all(v.progress.state in FINISHED for v in snapshot.campaigns))


def _sum_reasons(c: CampaignProgress) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for r in c.regions:
        for reason, n in r.quarantines.items():
            if n:
                totals[reason] = totals.get(reason, 0) + n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not yet known"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
