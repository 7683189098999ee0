"""Defaults that more than one layer reads, owned here once.

INFERENCE_TIMEOUT_S: the deadline of one inference request (a whole study) at a Triton
    server: the spec's `triton.timeout_s`, the bundled local server's, and the client's.
    Generous enough for a CPU-only server under load; a GPU server answers in seconds.
MIN_CELL: the deployment's floor: the smallest count published in an exact report (CMS
    cell-size rule); smaller counts, and cells that would reveal them, are hidden. No flag,
    query parameter or spec field goes below it: a spec's `privacy.min_cell` (default this)
    and `report --min-cell` may only raise it, `report --store` without a spec uses it, and
    the ops metrics export no quarantine reason counted fewer times. The one exception is
    the synthetic demo's `synthetic_demo_floor`, audited and printed (cli/demo.py).
"""

from __future__ import annotations

__all__ = ["INFERENCE_TIMEOUT_S", "MIN_CELL"]

INFERENCE_TIMEOUT_S = 300.0
MIN_CELL = 11
