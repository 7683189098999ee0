"""Training examples from phantoms: candidate patches labelled against the nodule truth.

Positives are candidates whose centre lies within a nodule's radius, plus jittered patches
at every true centre (so each nodule is seen several times); negatives are the other
candidates — vessels, bifurcations, crossings, pleura: the hard negatives the network must
learn to reject. Candidates between one and 1.5 radii of a nodule are left out (ambiguous).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from kernel.contract import NoduleType
from models.detection.patches import extract_patches
from models.detection.pipeline import Candidates

__all__ = ["Examples", "TruthNodule", "label_candidates", "mine"]

NEGATIVE = -1


@dataclass(frozen=True)
class TruthNodule:
    """A reference nodule: centre in input voxels, size and type."""

    z: float
    y: float
    x: float
    diameter_mm: float
    type: NoduleType


@dataclass(frozen=True)
class Examples:
    """Patches [N, 1, 32, 32, 32] (float16), is-nodule [N], type [N] (-1 for negatives) and
    the nodule's diameter in mm [N] (0 for negatives)."""

    patches: torch.Tensor
    label: torch.Tensor
    kind: torch.Tensor
    diameter: torch.Tensor


def label_candidates(cand: Candidates, truth: Sequence[TruthNodule]
                     ) -> npt.NDArray[np.int64]:
    """Per candidate: the index of the nodule it hits, NEGATIVE, or -2 (ambiguous)."""
    n = len(cand.blobs)
    out = np.full(n, NEGATIVE, dtype=np.int64)
    if n == 0 or not truth:
        return out
    pts = cand.grid.to_input(cand.blobs.centres.cpu().numpy()) * np.asarray(cand.spacing)
    for k, t in enumerate(truth):
        c = np.asarray([t.z, t.y, t.x]) * np.asarray(cand.spacing)
        d = np.linalg.norm(pts - c, axis=1)
        r = max(t.diameter_mm / 2.0, 1.5)
        out[(d < 1.5 * r) & (out == NEGATIVE)] = -2
        out[d <= r] = k
    return out


def mine(cand: Candidates, truth: Sequence[TruthNodule], rng: np.random.Generator,
         max_negatives: int = 120, jitter_per_nodule: int = 4) -> Examples:
    """Labelled patches of one study's candidates (and jittered true centres)."""
    lab = label_candidates(cand, truth)
    neg = np.flatnonzero(lab == NEGATIVE)
    if neg.size > max_negatives:  # candidates come strongest first: keep the hardest half
        half = max_negatives // 2
        neg = np.concatenate([neg[:half], rng.choice(neg[half:], max_negatives - half,
                                                     replace=False)])
    pos = np.flatnonzero(lab >= 0)
    centres = [cand.blobs.centres[torch.from_numpy(np.concatenate([pos, neg]))].cpu()]
    label = [1] * pos.size + [0] * neg.size
    kind = [int(truth[int(k)].type) for k in lab[pos]] + [NEGATIVE] * neg.size
    diameter = [truth[int(k)].diameter_mm for k in lab[pos]] + [0.0] * neg.size
    iso_sp = np.asarray(cand.grid.iso_spacing)
    for t in truth:
        c = cand.grid.to_iso(np.asarray([[t.z, t.y, t.x]]))[0]
        amp = min(0.3 * t.diameter_mm / 2.0, 2.0)
        jit = rng.uniform(-amp, amp, size=(jitter_per_nodule, 3)) / iso_sp
        centres.append(torch.from_numpy((c + jit).astype(np.float32)))
        label += [1] * jitter_per_nodule
        kind += [int(t.type)] * jitter_per_nodule
        diameter += [t.diameter_mm] * jitter_per_nodule
    all_c = torch.cat(centres).to(cand.iso.device)
    patches = extract_patches(cand.iso, all_c, cand.grid.iso_spacing).to(torch.float16).cpu()
    return Examples(patches, torch.tensor(label, dtype=torch.float32),
                    torch.tensor(kind, dtype=torch.long),
                    torch.tensor(diameter, dtype=torch.float32))
