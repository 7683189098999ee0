"""The false-positive-reduction network: a small 3D CNN on 32^3 candidate patches.

One output tensor [N, 4]: column 0 the nodule logit, columns 1-3 the type logits (solid,
part-solid, ground-glass). A single tensor keeps the TorchScript / ONNX exports simple.

`NoduleEnsemble` holds several such networks and gives the same output layout: the logits of
their mean probabilities, so scoring, exports and the Triton model take either.
`network_from_state` builds whichever a saved state dict holds.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["NoduleEnsemble", "NoduleNet", "network_from_state", "weights_digest"]


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv3d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool3d(2))
    return nn.Sequential(*layers)


class NoduleNet(nn.Module):
    """Nodule-vs-not and type classifier for [N, 1, 32, 32, 32] patches."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            # 2x2x2 patch embedding: keeps the 1.25 mm detail at an eighth of a conv's cost
            nn.Conv3d(1, w, 2, stride=2, bias=False),
            nn.BatchNorm3d(w),
            nn.ReLU(inplace=True),  # 16^3
            _block(w, 2 * w, True),  # 8^3
            _block(2 * w, 4 * w, True),  # 4^3
            _block(4 * w, 8 * w, False),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(8 * w * 64, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 4),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # type: ignore[no-any-return]


class NoduleEnsemble(nn.Module):
    """Members' probabilities averaged (nodule and type), returned as logits (NoduleNet's
    layout): sigmoid of column 0 is the members' mean nodule probability, softmax of
    columns 1-3 their mean type probabilities."""

    def __init__(self, members: int = 2, width: int = 8) -> None:
        super().__init__()
        self.members = nn.ModuleList(NoduleNet(width) for _ in range(members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = torch.stack([m(x) for m in self.members])  # [M, N, 4]
        p = torch.sigmoid(outs[..., 0]).mean(0).clamp(1e-7, 1.0 - 1e-7)
        kind = torch.softmax(outs[..., 1:], dim=-1).mean(0)
        return torch.cat([(torch.log(p) - torch.log1p(-p))[:, None], torch.log(kind)], dim=1)


def network_from_state(state: dict[str, torch.Tensor]) -> nn.Module:
    """A NoduleNet, or a NoduleEnsemble when the keys are `members.<i>.*`, with `state`
    loaded (strict: a missing or unexpected key raises RuntimeError)."""
    ids = {k.split(".")[1] for k in state if k.startswith("members.")}
    net: nn.Module = NoduleEnsemble(len(ids)) if ids else NoduleNet()
    net.load_state_dict(state)
    return net


def weights_digest(blob: bytes) -> str:
    """The short hash of a weights file's bytes that model versions carry (`2.4+571d6715`)."""
    return hashlib.sha256(blob).hexdigest()[:8]
