"""Training the candidate classifier on synthetic phantoms, on the CPU, in minutes.

Recipe: phantoms `first_seed .. first_seed + n_phantoms - 1` of the "small" profile (the
generator varies noise, kernel, pixel size, patient size, vessel density and attachment);
every phantom goes through the detector's own resample / mask / candidate stages; its
candidates are labelled against the truth (models.tooling.mining). The last `val_phantoms` are held
out for the validation figures. Evaluation seeds must not overlap `training_seeds()`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.detection.blobs import DEFAULT_PASSES
from models.detection.detector import predict_patches
from models.detection.network import NoduleNet
from models.detection.pipeline import Pipeline, PipelineConfig
from models.tooling.mining import Examples, TruthNodule, mine

__all__ = ["MODEL_VERSION", "TrainConfig", "operating_threshold", "phantom_truth", "train"]

log = logging.getLogger("models.tooling.train")
MODEL_VERSION = "2.3"  # what one trained network records; the shipped 2.6 combines two
# the fields that decide the mined examples (a cache is reused when these match)
_DATA_FIELDS = ("seed", "first_seed", "n_phantoms", "val_phantoms", "profile", "min_nodules",
                "max_nodules", "negatives_per_phantom", "candidate_passes", "small_juxtavascular",
                "juxta_airway")
_EXAMPLES_FORMAT = 2  # 2: examples carry their nodule's diameter


@dataclass(frozen=True)
class TrainConfig:
    """Data recipe and optimiser settings; recorded beside the weights."""

    seed: int = 7
    first_seed: int = 100_000
    n_phantoms: int = 280
    val_phantoms: int = 16
    profile: str = "small"
    min_nodules: int = 3
    max_nodules: int = 6
    negatives_per_phantom: int = 400  # about all of a phantom's candidates
    # examples are mined from the first N of the pipeline's candidate passes (2.0's weights
    # saw the first two; the ground-glass-only third pass came after them; 2.2's saw three,
    # 2.3's all four, the top-hat pass for small pleural nodules included)
    candidate_passes: int = 4
    negatives_per_positive: float = 2.0  # negatives drawn afresh each epoch, per positive
    # positives of nodules under `small_nodule_mm` weigh this much more in the loss (1: as
    # the shipped networks were trained). Tried at 3 for the small nodules touching a vessel
    # that 2.3 scores 0.006-0.09 (a missed small nodule turns a Lung-RADS 2 into a 1): they
    # still scored 0.004-0.14, and tuning agreement did not rise (model card)
    small_nodule_mm: float = 6.0
    small_nodule_weight: float = 1.0
    # the share of the training phantoms' nodules drawn as 3-6 mm solid ones touching a
    # vessel (the validation phantoms keep the generator's own mix); 0: as 2.2 and 2.3
    small_juxtavascular: float = 0.0
    # the share of the training phantoms' nodules placed against a bronchus' wall (their
    # type and size as drawn); 0: as 2.2 and 2.3
    juxta_airway: float = 0.0
    operating_fp_per_scan: float = 0.25  # sets the reporting threshold on validation...
    # ...but never below this floor, chosen on tuning phantoms 200000-200119 (neither
    # training nor evaluation seeds): 2.1's Lung-RADS agreement on 200000-200079 rose from
    # 0.875 at 0.7 to 0.9125 at 0.95-0.97 (floor 0.95); 2.2's was flat (0.883, 0.7-0.99);
    # 2.3's is 0.917 at 0.7-0.8, 0.908 at 0.85, 0.900 at 0.95, 0.883 at 0.99 (small solid
    # nodules on the pleura, new to its candidates, score 0.8-0.9)
    min_operating_threshold: float = 0.8
    epochs: int = 24
    batch: int = 64
    lr: float = 2e-3
    threads: int = 2
    workers: int = 2  # mining processes

    def training_seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.n_phantoms)

    def validation_seeds(self) -> range:
        """The last `val_phantoms` of `training_seeds()`: mined, but only for validation."""
        return self.training_seeds()[self.n_phantoms - self.val_phantoms:]


def phantom_truth(nodules: object) -> list[TruthNodule]:
    """TruthNodule records from a phantom's `nodules` (synth NoduleTruth)."""
    return [TruthNodule(float(n.z), float(n.y), float(n.x), float(n.diameter_mm), n.type)
            for n in nodules]  # type: ignore[attr-defined]


def _mine_one(cfg: TrainConfig, s: int) -> Examples:
    """One phantom's examples; its own random stream, so results do not depend on workers."""
    from synth.phantom import make_phantom  # the generator is only needed to train

    rng = np.random.default_rng([cfg.seed, s])
    count = int(rng.integers(cfg.min_nodules, cfg.max_nodules + 1))
    val = s in cfg.validation_seeds()
    ph = make_phantom(s, cfg.profile, n_nodules=count,
                      small_juxtavascular=0.0 if val else cfg.small_juxtavascular,
                      juxta_airway=0.0 if val else cfg.juxta_airway)
    passes = DEFAULT_PASSES[: cfg.candidate_passes]
    cand = Pipeline(PipelineConfig(passes=passes), torch.device("cpu")).prepare(ph.hu, ph.spacing)
    return mine(cand, phantom_truth(ph.nodules), rng, cfg.negatives_per_phantom)


def _examples(cfg: TrainConfig, seeds: range) -> Examples:
    parts: list[Examples] = []
    if cfg.workers <= 1:
        parts = [_mine_one(cfg, s) for s in seeds]
    else:
        ctx = multiprocessing.get_context("spawn")
        # one torch thread per mining process: the processes share the cores
        with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=torch.set_num_threads,
                                 initargs=(1,)) as pool:
            parts = list(pool.map(_mine_one, [cfg] * len(seeds), seeds))
    log.info("mined phantoms %d-%d: %d examples", seeds.start, seeds.stop - 1,
             sum(len(p.label) for p in parts))
    return Examples(*(torch.cat([getattr(p, f) for p in parts])
                      for f in ("patches", "label", "kind", "diameter")))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flips = [d for d in (2, 3, 4) if bool(torch.rand(1, generator=gen) < 0.5)]
    if flips:
        x = x.flip(flips)
    if bool(torch.rand(1, generator=gen) < 0.5):
        x = x.transpose(3, 4)
    return x


def _loss(out: torch.Tensor, label: torch.Tensor, kind: torch.Tensor,
          pos_weight: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(out[:, 0], label, weight=weight,
                                              pos_weight=pos_weight)
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


def _mined(cfg: TrainConfig, cache: Path | None) -> tuple[Examples, Examples]:
    """Training and validation examples, from `cache` when it holds this recipe's."""
    recipe: dict[str, object] = {k: v for k, v in asdict(cfg).items() if k in _DATA_FIELDS}
    recipe["examples"] = _EXAMPLES_FORMAT
    key = json.dumps(recipe, sort_keys=True)
    if cache is not None and cache.exists():
        saved = torch.load(cache, weights_only=False)
        if saved.get("recipe") == key:
            log.info("examples from %s", cache)
            return saved["train"], saved["val"]
    val = cfg.validation_seeds()
    out = (_examples(cfg, range(cfg.first_seed, val.start)), _examples(cfg, val))
    if cache is not None:
        torch.save({"recipe": key, "train": out[0], "val": out[1]}, cache)
    return out


@torch.no_grad()
def operating_threshold(net: NoduleNet, val: Examples, n_scans: int,
                        fp_per_scan: float = 1.0, floor: float = 0.5) -> float:
    """The probability (as the detector computes it: mean over test-time views) above which
    the validation negatives give `fp_per_scan`, at least `floor`."""
    net.eval()
    neg = val.patches[val.label < 0.5]
    if neg.shape[0] == 0:
        return floor
    prob = torch.cat([predict_patches(net, neg[i : i + 256].float())[0]
                      for i in range(0, neg.shape[0], 256)])
    k = int(fp_per_scan * n_scans)
    if k >= prob.numel():
        return floor
    return max(floor, float(prob.sort(descending=True).values[k]))


def train(cfg: TrainConfig, out_dir: Path, cache: Path | None = None) -> dict[str, object]:
    """Mine, train, write `nodule_net.pt` and `nodule_net.json` to `out_dir`; the record.

    `cache`: a file to keep the mined examples in (mining is most of the time); reused when
    it was written for the same data recipe.
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    seeds = cfg.training_seeds()
    train_ex, val_ex = _mined(cfg, cache)
    t_mine = time.perf_counter() - t0
    net = NoduleNet()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    pos_idx = torch.nonzero(train_ex.label > 0.5).flatten()
    neg_idx = torch.nonzero(train_ex.label < 0.5).flatten()
    n_neg = min(neg_idx.numel(), int(cfg.negatives_per_positive * pos_idx.numel()))
    n = pos_idx.numel() + n_neg
    steps = cfg.epochs * ((n + cfg.batch - 1) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    pos_weight = torch.tensor(n_neg / max(pos_idx.numel(), 1))
    small = (train_ex.label > 0.5) & (train_ex.diameter < cfg.small_nodule_mm)
    weight = torch.where(small, cfg.small_nodule_weight, 1.0)
    # the last probability the net gave each negative (1 until seen): half of each epoch's
    # negatives are the hardest by it, half a fresh random draw (online hard-negative mining)
    neg_prob = torch.ones(train_ex.label.shape[0])
    hard = n_neg // 2
    for epoch in range(cfg.epochs):
        net.train()
        order = neg_prob[neg_idx].argsort(descending=True)
        rest = order[hard:][torch.randperm(order.numel() - hard, generator=gen)[: n_neg - hard]]
        chosen = torch.cat([pos_idx, neg_idx[order[:hard]], neg_idx[rest]])
        perm = chosen[torch.randperm(n, generator=gen)]
        total = 0.0
        for i in range(0, n, cfg.batch):
            idx = perm[i : i + cfg.batch]
            x = _augment(train_ex.patches[idx].float(), gen)
            out = net(x)
            loss = _loss(out, train_ex.label[idx], train_ex.kind[idx], pos_weight, weight[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            neg_prob[idx] = torch.sigmoid(out[:, 0].detach())
            total += float(loss.detach()) * idx.numel()
        log.info("epoch %d: loss %.4f (%.0f s)", epoch + 1, total / n, time.perf_counter() - t0)
    t_total = time.perf_counter() - t0
    record: dict[str, object] = {
        "version": MODEL_VERSION,
        "type_from_network": True,
        "config": asdict(cfg),
        "training_seeds": [seeds.start, seeds.stop - 1],
        "train_examples": {"positives": int(pos_idx.numel()), "small_positives": int(small.sum()),
                           "negatives": int(neg_idx.numel()), "per_epoch": n},
        "operating_threshold": operating_threshold(net, val_ex, cfg.val_phantoms,
                                                   cfg.operating_fp_per_scan,
                                                   cfg.min_operating_threshold),
        "validation": _scores(net, val_ex),
        "train_fit": _scores(net, train_ex),
        "seconds": {"mining": round(t_mine, 1), "total": round(t_total, 1)},
        "torch": torch.__version__,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out_dir / "nodule_net.pt")
    (out_dir / "nodule_net.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
