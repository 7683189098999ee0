"""Training the candidate classifier on synthetic phantoms, on the CPU, in minutes.

Recipe: phantoms `first_seed .. first_seed + n_phantoms - 1` of the "small" profile (the
generator varies noise, kernel, pixel size, patient size, vessel density and attachment);
every phantom goes through the detector's own resample / mask / candidate stages; its
candidates are labelled against the truth (models.mining). The last `val_phantoms` are held
out for the validation figures. Evaluation seeds must not overlap `training_seeds()`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.mining import Examples, TruthNodule, mine
from models.network import NoduleNet
from models.pipeline import Pipeline, PipelineConfig

__all__ = ["MODEL_VERSION", "TrainConfig", "operating_threshold", "phantom_truth", "train"]

log = logging.getLogger("models.train")
MODEL_VERSION = "1.0"


@dataclass(frozen=True)
class TrainConfig:
    """Data recipe and optimiser settings; recorded beside the weights."""

    seed: int = 7
    first_seed: int = 100_000
    n_phantoms: int = 28
    val_phantoms: int = 4
    profile: str = "small"
    min_nodules: int = 2
    max_nodules: int = 5
    negatives_per_phantom: int = 200
    operating_fp_per_scan: float = 0.5  # sets the reporting threshold on validation
    epochs: int = 14
    batch: int = 64
    lr: float = 2e-3
    threads: int = 2

    def training_seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.n_phantoms)


def phantom_truth(nodules: object) -> list[TruthNodule]:
    """TruthNodule records from a phantom's `nodules` (jobs.synth NoduleTruth)."""
    return [TruthNodule(float(n.z), float(n.y), float(n.x), float(n.diameter_mm), n.type)
            for n in nodules]  # type: ignore[attr-defined]


def _examples(cfg: TrainConfig, seeds: range, pipeline: Pipeline) -> Examples:
    from jobs.synth.phantom import make_phantom  # the generator is only needed to train

    rng = np.random.default_rng(cfg.seed)
    parts: list[Examples] = []
    for s in seeds:
        count = int(rng.integers(cfg.min_nodules, cfg.max_nodules + 1))
        ph = make_phantom(s, cfg.profile, n_nodules=count)
        cand = pipeline.prepare(ph.hu, ph.spacing)
        parts.append(mine(cand, phantom_truth(ph.nodules), rng, cfg.negatives_per_phantom))
        log.info("mined phantom %d: %d candidates", s, len(cand.blobs))
    return Examples(torch.cat([p.patches for p in parts]), torch.cat([p.label for p in parts]),
                    torch.cat([p.kind for p in parts]))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flips = [d for d in (2, 3, 4) if bool(torch.rand(1, generator=gen) < 0.5)]
    if flips:
        x = x.flip(flips)
    if bool(torch.rand(1, generator=gen) < 0.5):
        x = x.transpose(3, 4)
    return x


def _loss(out: torch.Tensor, label: torch.Tensor, kind: torch.Tensor,
          pos_weight: torch.Tensor) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(out[:, 0], label, pos_weight=pos_weight)
    pos = kind >= 0
    if bool(pos.any()):
        loss = loss + 0.5 * F.cross_entropy(out[pos, 1:], kind[pos])
    return loss


@torch.no_grad()
def _scores(net: NoduleNet, ex: Examples) -> dict[str, float]:
    net.eval()
    out = torch.cat([net(ex.patches[i : i + 256].float()) for i in range(0, len(ex.label), 256)])
    prob = torch.sigmoid(out[:, 0])
    pos = ex.label > 0.5
    pos_kind = ex.kind >= 0
    type_acc = float((out[pos_kind, 1:].argmax(1) == ex.kind[pos_kind]).float().mean())
    return {
        "sensitivity_at_0.5": float((prob[pos] >= 0.5).float().mean()),
        "specificity_at_0.5": float((prob[~pos] < 0.5).float().mean()),
        "type_accuracy": type_acc,
        "positives": int(pos.sum()),
        "negatives": int((~pos).sum()),
    }


def _mined(cfg: TrainConfig, pipeline: Pipeline, cache: Path | None
           ) -> tuple[Examples, Examples]:
    """Training and validation examples, from `cache` when it holds this recipe's."""
    key = json.dumps(asdict(cfg), sort_keys=True)
    if cache is not None and cache.exists():
        saved = torch.load(cache, weights_only=False)
        if saved.get("recipe") == key:
            log.info("examples from %s", cache)
            return saved["train"], saved["val"]
    seeds = cfg.training_seeds()
    n_train = cfg.n_phantoms - cfg.val_phantoms
    out = (_examples(cfg, seeds[:n_train], pipeline), _examples(cfg, seeds[n_train:], pipeline))
    if cache is not None:
        torch.save({"recipe": key, "train": out[0], "val": out[1]}, cache)
    return out


@torch.no_grad()
def operating_threshold(net: NoduleNet, val: Examples, n_scans: int,
                        fp_per_scan: float = 1.0) -> float:
    """The probability above which the validation negatives give `fp_per_scan` (>= 0.5)."""
    net.eval()
    neg = val.patches[val.label < 0.5]
    if neg.shape[0] == 0:
        return 0.5
    prob = torch.cat([torch.sigmoid(net(neg[i : i + 256].float())[:, 0])
                      for i in range(0, neg.shape[0], 256)])
    k = int(fp_per_scan * n_scans)
    if k >= prob.numel():
        return 0.5
    return max(0.5, float(prob.sort(descending=True).values[k]))


def train(cfg: TrainConfig, out_dir: Path, cache: Path | None = None) -> dict[str, object]:
    """Mine, train, write `nodule_net.pt` and `nodule_net.json` to `out_dir`; the record.

    `cache`: a file to keep the mined examples in (mining is most of the time); reused when
    it was written for the same data recipe.
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    pipeline = Pipeline(PipelineConfig(), torch.device("cpu"))
    t0 = time.perf_counter()
    seeds = cfg.training_seeds()
    train_ex, val_ex = _mined(cfg, pipeline, cache)
    t_mine = time.perf_counter() - t0
    net = NoduleNet()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    n = len(train_ex.label)
    steps = cfg.epochs * ((n + cfg.batch - 1) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    n_pos = float(train_ex.label.sum())
    pos_weight = torch.tensor(min(10.0, (n - n_pos) / max(n_pos, 1.0)))
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, cfg.batch):
            idx = perm[i : i + cfg.batch]
            x = _augment(train_ex.patches[idx].float(), gen)
            loss = _loss(net(x), train_ex.label[idx], train_ex.kind[idx], pos_weight)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total += float(loss.detach()) * idx.numel()
        log.info("epoch %d: loss %.4f", epoch + 1, total / n)
    t_total = time.perf_counter() - t0
    record: dict[str, object] = {
        "version": MODEL_VERSION,
        "type_from_network": False,
        "config": asdict(cfg),
        "training_seeds": [seeds.start, seeds.stop - 1],
        "train_examples": {"positives": int(n_pos), "total": n},
        "operating_threshold": operating_threshold(net, val_ex, cfg.val_phantoms,
                                                   cfg.operating_fp_per_scan),
        "validation": _scores(net, val_ex),
        "train_fit": _scores(net, train_ex),
        "seconds": {"mining": round(t_mine, 1), "total": round(t_total, 1)},
        "torch": torch.__version__,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out_dir / "nodule_net.pt")
    (out_dir / "nodule_net.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
