"""A person of the varied family as the next round needs them: one `people.jsonl` record.

A person is re-drawn from their study seed (anatomy, trees, fissures, mimics; the
emphysema laid over their first scan's grid); the record adds what later scans changed:
the pose (first scan's LPS -> the last scan's), the last scan's reconstruction (so a
follow-up can keep the protocol), and the nodules as they now stand (`Lesion`, in anatomy
mm). A person seen once has no lesions recorded (None): their seed's own nodules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernel.contract import NoduleType
from synth.acquisition import Pose
from synth.people import Identity, Site
from synth_varied.findings import Finding
from synth_varied.lesions import Shape

__all__ = ["PROTOCOL_FIELDS", "Lesion", "Person"]

# the Scan fields a site keeps from one visit to the next when the protocol stays
PROTOCOL_FIELDS = ("thickness", "pixel", "matrix", "blur_mm", "sharpen", "grain_mm",
                   "fov_circle", "pad_hu", "noise_sigma")


@dataclass(frozen=True)
class Lesion:
    """A nodule as it now stands: a shape of about 1 mm radius in anatomy mm (scaled to
    size when drawn), its kind, core share (part-solid), attenuation and attachment."""

    number: int
    kind: NoduleType
    shape: Shape
    core_share: float
    hu_solid: float
    hu_glass: float
    attached_to: str

    @classmethod
    def of(cls, number: int, f: Finding) -> Lesion:
        """The lesion drawn as `f` (its diameter brought back to about 2 mm)."""
        core = 0.0 if f.core is None else float(f.core.axes[0] / f.outer.axes[0])
        return cls(number, f.kind, f.outer.scaled(2.0 / max(f.diameter_mm, 0.1)), core,
                   f.hu_solid, f.hu_glass, f.attached_to)

    def to_json(self) -> dict[str, Any]:
        s = self.shape
        return {"number": self.number, "kind": self.kind.name.lower(),
                "centre": s.centre.tolist(), "rotation": s.rotation.tolist(),
                "axes": s.axes.tolist(), "bump_dirs": s.bump_dirs.tolist(),
                "bump_size": s.bump_size.tolist(), "bump_width": s.bump_width.tolist(),
                "core_share": self.core_share, "hu_solid": self.hu_solid,
                "hu_glass": self.hu_glass, "attached_to": self.attached_to}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Lesion:
        def arr(key: str, *shape: int) -> Any:
            return np.asarray(d[key], dtype=np.float64).reshape(shape)

        k = len(d["bump_size"])
        shape = Shape(arr("centre", 3), arr("rotation", 3, 3), arr("axes", 3),
                      arr("bump_dirs", k, 3), arr("bump_size", k), arr("bump_width", k))
        return cls(int(d["number"]), NoduleType[str(d["kind"]).upper()], shape,
                   float(d["core_share"]), float(d["hu_solid"]), float(d["hu_glass"]),
                   str(d["attached_to"]))


@dataclass(frozen=True)
class Person:
    """What the next round needs to know about a person, as of their last study."""

    key: str  # nodule ids are "<key>-<number>"
    seed: int  # the study seed their anatomy is drawn from
    identity: Identity
    site: Site
    table_z: float
    vendor: int
    patient_position: str
    kvp: float
    pose: Pose  # the first scan's LPS -> the last scan's
    protocol: dict[str, Any] | None  # the last scan's PROTOCOL_FIELDS (None: the seed's)
    next_number: int
    lesions: tuple[Lesion, ...] | None  # None: the seed's own nodules

    def to_json(self, study_uid: str, index: int) -> dict[str, Any]:
        return {"study_uid": study_uid, "index": index, "family": "varied",
                "person": self.key, "seed": self.seed,
                "identity": dataclasses.asdict(self.identity),
                "site": dataclasses.asdict(self.site), "table_z": self.table_z,
                "vendor": self.vendor, "patient_position": self.patient_position,
                "kvp": self.kvp, "pose": self.pose.to_json(), "protocol": self.protocol,
                "next_number": self.next_number,
                "lesions": None if self.lesions is None
                else [les.to_json() for les in self.lesions]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Person:
        lesions = d["lesions"]
        return cls(str(d["person"]), int(d["seed"]), Identity(**d["identity"]),
                   Site(**d["site"]), float(d["table_z"]), int(d["vendor"]),
                   str(d["patient_position"]), float(d["kvp"]), Pose.from_json(d["pose"]),
                   None if d["protocol"] is None else dict(d["protocol"]),
                   int(d["next_number"]),
                   None if lesions is None else tuple(Lesion.from_json(x) for x in lesions))
