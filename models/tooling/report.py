"""Presenting an evaluation: the people's table, and the guard against seed overlap."""

from __future__ import annotations

import json
from collections.abc import Iterable

from kernel.errors import BadInput
from models.detection.detector import DEFAULT_WEIGHTS

__all__ = ["check_seeds", "format_table"]


def check_seeds(seeds: Iterable[int]) -> None:
    """BadInput when evaluation (or tuning) phantoms overlap the shipped weights' training
    phantoms."""
    meta_path = DEFAULT_WEIGHTS.with_suffix(".json")
    if not meta_path.exists():
        return
    lo, hi = json.loads(meta_path.read_text()).get("training_seeds", [0, -1])
    clash = [s for s in seeds if lo <= s <= hi]
    if clash:
        raise BadInput(f"phantom seeds {clash[0]}..{clash[-1]} were used to train the model "
                       f"(training seeds {lo}..{hi}); pick --seed outside that range")


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def format_table(report: dict[str, object]) -> list[str]:
    """Lines: one row per method, with the targets beside them."""
    methods: dict[str, dict[str, object]] = report["methods"]  # type: ignore[assignment]
    targets: dict[str, float] = report["targets"]  # type: ignore[assignment]
    cols = ("cpm", "sensitivity_1fp_6mm", "median_diameter_error_mm", "lungrads_agreement")
    heads = ("CPM", "sens@1FP >=6mm", "median |d err| mm", "Lung-RADS exact")
    lines = [f"{report.get('source', '')}: {report['cases']} scans, {report['nodules']} "
             f"nodules, model {report['model_version']}, {report['seconds']} s"]
    lines.append(f"{'method':14}" + "".join(f"{h:>19}" for h in heads))
    for name, m in methods.items():
        lines.append(f"{name:14}" + "".join(f"{_fmt(m[c]):>19}" for c in cols))
    lines.append(f"{'target':14}" + "".join(
        f"{('<= ' if 'error' in c else '>= ') + _fmt(targets[c]):>19}" for c in cols))
    for name, m in methods.items():
        sens: dict[str, float] = m["sensitivity_at_fp_per_scan"]  # type: ignore[assignment]
        lines.append(f"{name} sensitivity at FP/scan " + ", ".join(
            f"{k}: {v:.3f}" for k, v in sens.items()))
    return lines
