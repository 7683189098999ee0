"""Choosing members and threshold: dump phantoms' candidates once, score combinations fast.

`dump_phantoms` runs the candidate stage of each phantom once and keeps, for every network
given (a single network's file, or each member of an ensemble's), its per-view nodule and
type probabilities for every candidate. `score_dumps` then reads the Lung-RADS category of
each study for any combination of those networks (the mean of their probabilities, as
`NoduleEnsemble` takes it) at any threshold, measuring only what passes, in seconds per
study instead of the network's minutes. A dump is about 100 MB per phantom (the volume and
the candidates, which measuring needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from kernel.contract import nodules_from_array
from kernel.errors import BadInput, LungsNotCovered
from kernel.lungrads import Category, categorize_study
from models.detection.detector import N_VIEWS, patch_batches, view_outputs
from models.detection.measure import Measurement
from models.detection.network import NoduleEnsemble, network_from_state
from models.detection.pipeline import Candidates, Pipeline, PipelineConfig
from models.tooling.cohort import phantom_cases

__all__ = ["TuneResult", "dump_phantoms", "networks_in", "score_dumps"]


def networks_in(paths: Sequence[Path]) -> list[nn.Module]:
    """The single networks in weights files, in order (an ensemble gives all its members)."""
    nets: list[nn.Module] = []
    for path in paths:
        try:
            net = network_from_state(torch.load(path, map_location="cpu", weights_only=True))
        except (OSError, RuntimeError, KeyError) as exc:
            raise BadInput(f"{path} is not a weights file: {exc}") from exc
        nets.extend(net.members if isinstance(net, NoduleEnsemble) else [net])
    for net in nets:
        net.eval()
    return nets


def _outputs(nets: Sequence[nn.Module], cand: Candidates) -> tuple[torch.Tensor, torch.Tensor]:
    """Per network, view and candidate: nodule probability [M, V, N], type probs [M, V, N, 3]
    (each batch of patches is cut once and goes through every network)."""
    m = len(nets)
    ps, ks = [torch.zeros(m, N_VIEWS, 0)], [torch.zeros(m, N_VIEWS, 0, 3)]
    for x in patch_batches(cand):
        outs = [view_outputs(net, x) for net in nets]
        ps.append(torch.stack([p for p, _ in outs]).cpu())
        ks.append(torch.stack([k for _, k in outs]).cpu())
    return torch.cat(ps, 2), torch.cat(ks, 2)


def dump_phantoms(weights: Sequence[Path], first: int, n: int, out: Path,
                  profile: str = "small") -> list[Path]:
    """Dump phantoms first..first+n-1 into `out` (one `<seed>.pt` each; existing ones are
    kept and not rendered again, so an interrupted dump resumes); the files."""
    nets = networks_in(weights)
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(PipelineConfig(), torch.device("cpu"))
    files = [out / f"{s}.pt" for s in range(first, first + n)]
    for seed, f in zip(range(first, first + n), files, strict=True):
        if f.exists():
            continue
        case = next(phantom_cases(1, seed, profile))
        rec: dict[str, object] = {"category": case.category, "networks": len(nets),
                                  "cand": None}
        try:
            cand = pipe.prepare(case.hu, case.spacing)
        except LungsNotCovered:
            torch.save(rec, f)
            continue
        pv, kv = _outputs(nets, cand)
        rec.update(cand=cand, pv=pv, kv=kv)
        torch.save(rec, f)
    return files


@dataclass
class TuneResult:
    """Lung-RADS agreement per (combination, threshold), and the studies that disagree."""

    studies: int = 0
    agree: dict[tuple[tuple[int, ...], float], int] = field(default_factory=dict)
    wrong: dict[tuple[tuple[int, ...], float], list[str]] = field(default_factory=dict)


def score_dumps(files: Iterable[Path], combos: Sequence[tuple[int, ...]],
                thresholds: Sequence[float]) -> TuneResult:
    """Each combination (network indices in dump order) at each threshold, as the detector
    would read it: mean probability and mean type over networks and views, then measure
    (the type is the networks', as for weights whose record says `type_from_network`)."""
    pipe = Pipeline(PipelineConfig(), torch.device("cpu"))
    res = TuneResult()
    top = max(max(c) for c in combos)
    for key in ((c, t) for c in combos for t in thresholds):
        res.agree[key], res.wrong[key] = 0, []
    for f in files:
        rec = torch.load(f, weights_only=False)
        res.studies += 1
        if top >= int(rec["networks"]):
            raise BadInput(f"{f} holds {rec['networks']} networks; no network {top}")
        measured: dict[tuple[int, int], Measurement] = {}
        for c in combos:
            if rec["cand"] is not None:
                p = rec["pv"][list(c)].mean(0).mean(0)
                k = rec["kv"][list(c)].mean(0).mean(0).argmax(-1)
            for t in thresholds:
                pred = Category.INCOMPLETE if rec["cand"] is None else categorize_study(
                    nodules_from_array(pipe.finish(rec["cand"], p, k, t, measured)))
                if pred is rec["category"]:
                    res.agree[(c, t)] += 1
                else:
                    res.wrong[(c, t)].append(
                        f"{f.stem}: {rec['category'].value} -> {pred.value}")
    return res
