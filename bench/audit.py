"""`lungscreen bench audit`: the keyed audit trail's cost per 1,000 events (medians of runs).

For 1,000 and 10,000 events on a fresh SQLite store each run: appending them one by one
through the store's audit path (HMAC chain, anchor written after every append), verifying
the whole trail, and the head check an export does before it appends. The baseline, in the
same process: the same events as plain JSON rows inserted one transaction each into a bare
SQLite table, what one durable append costs here without a chain or an anchor.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.store import AuditKey, ResultsStore

__all__ = ["AuditBench", "run_audit_bench"]

SIZES = (1_000, 10_000)
_EVENT: dict[str, str | int] = {"who": "alice", "role": "analyst", "method": "GET",
          "route": "/api/v1/campaigns/{campaign_id}/report", "status": 200, "by": "region"}


@dataclass(frozen=True)
class AuditRow:
    events: int
    append_ms_per_event: float
    baseline_ms_per_event: float
    verify_ms_per_1000: float
    head_check_ms: float

    @property
    def append_ratio(self) -> float:
        return self.append_ms_per_event / self.baseline_ms_per_event


@dataclass(frozen=True)
class AuditBench:
    runs: int
    rows: tuple[AuditRow, ...]

    def lines(self) -> list[str]:
        out = [f"audit trail, SQLite, medians of {self.runs} runs:",
               "  events  append ms/event  plain insert ms/event  ratio  verify ms/1000  "
               "head check ms"]
        out += [f"  {r.events:>6}  {r.append_ms_per_event:>15.3f}  "
                f"{r.baseline_ms_per_event:>21.3f}  {r.append_ratio:>5.2f}  "
                f"{r.verify_ms_per_1000:>13.1f}  {r.head_check_ms:>13.2f}" for r in self.rows]
        return out

    def to_json(self) -> str:
        return json.dumps({"runs": self.runs, "rows": [
            {**asdict(r), "append_ratio": r.append_ratio} for r in self.rows]}, indent=2)


def _trail(n: int, folder: Path) -> tuple[float, float, float]:
    key = AuditKey.load(folder / "state")
    with ResultsStore.open(f"sqlite:///{folder / 'trail.db'}", audit_key=key) as store:
        start = time.perf_counter()
        for i in range(n):
            store.audit("bench", "api_request", i=i, **_EVENT)
        appended = time.perf_counter()
        check = store.verify_trail()
        verified = time.perf_counter()
        store.verify_head()
        head = time.perf_counter()
    if not check.ok:
        raise RuntimeError(f"the bench's own trail does not verify: {check}")
    return appended - start, verified - appended, head - verified


def _plain(n: int, folder: Path) -> float:
    conn = sqlite3.connect(folder / "plain.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, detail TEXT NOT NULL)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO events (detail) VALUES (?)",
                     (json.dumps({"i": i, **_EVENT}, sort_keys=True),))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def run_audit_bench(runs: int = 3, sizes: tuple[int, ...] = SIZES) -> AuditBench:
    """Append, verify and head-check figures per size, with the plain-insert baseline."""
    rows = []
    for n in sizes:
        trail, plain = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="lungscreen-bench-audit-") as tmp:
                trail.append(_trail(n, Path(tmp)))
                plain.append(_plain(n, Path(tmp)))
        append, verify, head = (statistics.median(x) for x in zip(*trail, strict=True))
        rows.append(AuditRow(events=n, append_ms_per_event=append / n * 1e3,
                             baseline_ms_per_event=statistics.median(plain) / n * 1e3,
                             verify_ms_per_1000=verify / n * 1e6, head_check_ms=head * 1e3))
    return AuditBench(runs=runs, rows=tuple(rows))
