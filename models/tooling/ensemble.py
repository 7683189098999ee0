"""Combining trained networks into one weights file whose probabilities are their mean.

Networks trained on the same phantoms but on different candidate sets make different
mistakes: a false positive one scores 0.81 the other scores lower; a part-solid nodule one
misses the other finds. `combine` writes a `NoduleEnsemble` state dict and a record listing
each member's own training record, so the ensemble stays reproducible from the members'
`lungscreen model train` commands.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kernel.errors import BadInput
from models.detection.network import NoduleEnsemble, weights_digest

__all__ = ["combine"]


def _load_member(path: Path, into: nn.Module) -> dict[str, Any]:
    """Load the single network at `path` into `into`; its training record (and hash)."""
    try:
        blob = path.read_bytes()
        into.load_state_dict(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, KeyError) as exc:
        raise BadInput(f"{path} is not a single network's weights file: {exc}") from exc
    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta["sha256_8"] = weights_digest(blob)
    return meta


def combine(members: Sequence[Path], out_dir: Path, version: str,
            operating_threshold: float) -> dict[str, object]:
    """Write `nodule_net.pt` (the ensemble) and `nodule_net.json` to `out_dir`; the record.

    The members must be single networks (`NoduleNet` weights, each with its training
    record beside it as `<name>.json` when there is one). The reporting threshold is given,
    not derived: it is chosen on tuning phantoms, as for a single network's floor.
    """
    if len(members) < 2:
        raise BadInput(f"an ensemble needs at least 2 members, got {len(members)}")
    if not 0.0 < operating_threshold < 1.0:
        raise BadInput(f"the operating threshold must lie in (0, 1), got {operating_threshold}")
    net = NoduleEnsemble(len(members))
    records = [_load_member(Path(p), sub) for p, sub in zip(members, net.members, strict=True)]
    seeds = [r["training_seeds"] for r in records if "training_seeds" in r]
    record: dict[str, object] = {
        "version": version,
        "type_from_network": all(bool(r.get("type_from_network", False)) for r in records),
        "operating_threshold": operating_threshold,
        "members": records,
    }
    if seeds:
        # the evaluation guard (models.tooling.report.check_seeds) reads one range: their hull
        record["training_seeds"] = [min(int(s[0]) for s in seeds), max(int(s[1]) for s in seeds)]
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out_dir / "nodule_net.pt")
    (out_dir / "nodule_net.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
