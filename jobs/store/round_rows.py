"""A screen's reading against its prior (`kernel.rounds.RoundReading`) as the store's JSON.

`{"box": [z0, y0, x0, z1, y1, x1] | null, "prior": study pseudonym | null,
"interval_days": float | null, "resolved": int, "prior_missing": bool, "registered": bool,
"nodules": [[change, category, prior_d_mm, prior_solid_mm, first_d_mm, days_since_first,
[rz, ry, rx] | null, prior_index | null, [d_mm, solid_mm] | null], ...]}`, one nodule row per
stored nodule, in the same order (the last: measured beside the prior's pixels; rows stored
before it was kept are shorter). No dates, no identifiers.
"""

from __future__ import annotations

import json
from typing import Any

from kernel.followup import Change
from kernel.lungrads import Category
from kernel.rounds import LungBox, NoduleReading, RoundReading

__all__ = ["reading_from_json", "reading_to_json"]


def reading_to_json(reading: RoundReading | None) -> str | None:
    if reading is None:
        return None
    box = reading.lung_box
    doc: dict[str, Any] = {
        "box": None if box is None else [*box.low, *box.high],
        "prior": reading.prior_study_pid,
        "interval_days": reading.interval_days,
        "resolved": reading.resolved,
        "prior_missing": reading.prior_missing,
        "registered": reading.registered,
        "nodules": [[n.change.value, n.category.value, n.prior_diameter_mm,
                     n.prior_solid_diameter_mm, n.first_diameter_mm, n.days_since_first,
                     None if n.relative is None else list(n.relative), n.prior_index,
                     None if n.beside_mm is None else list(n.beside_mm)]
                    for n in reading.nodules],
    }
    return json.dumps(doc, separators=(",", ":"))


def reading_from_json(text: str | None, prior_category: str | None) -> RoundReading | None:
    if not text:
        return None
    doc = json.loads(text)
    box = doc.get("box")
    return RoundReading(
        lung_box=None if box is None else LungBox(tuple(box[:3]), tuple(box[3:])),
        nodules=tuple(
            NoduleReading(Change(n[0]), Category(n[1]), n[2], n[3], n[4], float(n[5]),
                          None if n[6] is None else (n[6][0], n[6][1], n[6][2]),
                          n[7] if len(n) > 7 else None,
                          (float(n[8][0]), float(n[8][1])) if len(n) > 8 and n[8] else None)
            for n in doc.get("nodules", [])),
        prior_study_pid=doc.get("prior"),
        prior_category=None if prior_category is None else Category(prior_category),
        interval_days=doc.get("interval_days"),
        resolved=int(doc.get("resolved", 0)),
        prior_missing=bool(doc.get("prior_missing", False)),
        registered=bool(doc.get("registered", False)),
    )
