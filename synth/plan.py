"""Planning a synthetic cohort: a pure function from the arguments to one plan per study.

Everything random about a study (region, site, identity, scanner, syntax, defect, UIDs) is
fixed here, serially, from the cohort seed; workers then render and write each plan, so
the bytes on disk do not depend on how many workers there are or in which order they run.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from kernel.reasons import Reason
from synth.dicom_writer import VENDORS, available_syntaxes
from synth.people import Identity, Site, make_identity, make_sites

if TYPE_CHECKING:
    from synth.followup import FollowUp

__all__ = ["DEFECTS", "REGION_NAMES", "StudyPlan", "assign_defects", "make_uid", "pick_syntax",
           "plan_cohort", "region_names"]

REGION_NAMES = ("north", "south", "east", "west", "central", "coast")

# defect kind -> what a correct series selector decides: (selected, reason if not)
DEFECTS: dict[str, tuple[bool, Reason | None]] = {
    "scout": (True, None),
    "coronal_reformat": (True, None),
    "thin_and_thick": (True, None),
    "non_dicom_file": (True, None),
    "split_folders": (True, None),
    "slice_gap": (False, Reason.SLICE_GAP),
    "duplicate_slices": (False, Reason.DUPLICATE_SLICES),
    "inconsistent_spacing": (False, Reason.INCONSISTENT_SPACING),
    "thick_slices": (False, Reason.THICK_SLICES),
    "incomplete_lung_coverage": (False, Reason.INCOMPLETE_LUNG_COVERAGE),
    "not_ct": (False, Reason.NOT_CT),
    "truncated_file": (False, Reason.UNREADABLE_FILE),
}

# transfer syntax mix: about a quarter of studies compressed
_SYNTAX_MIX = ((ExplicitVRLittleEndian, 0.6), (ImplicitVRLittleEndian, 0.15),
               (RLELossless, 0.09), (JPEG2000Lossless, 0.08), (JPEGLSLossless, 0.08))


@dataclass(frozen=True)
class StudyPlan:
    """Everything needed to render and write one study, and nothing random left."""

    index: int
    seed: int  # phantom seed
    profile: str
    site: Site
    identity: Identity
    vendor: int  # index into VENDORS
    syntax: str  # transfer syntax UID
    defect: str | None
    study_uid: str
    frame_uid: str
    uid_root: str  # series UIDs are derived from it
    table_z: float  # mm added to the phantom's z (scanner table position)
    kvp: float
    tube_ma: float
    patient_position: str
    detail_seed: int  # for defect details (which slice, which file name)
    round: int = 1  # the screening round (1: the person's first)
    person: str = ""  # the person's key, the prefix of nodule ids ("": the study index)
    follow_up: FollowUp | None = None  # a follow-up cohort's study (synth.rounds plans it)

    @property
    def person_key(self) -> str:
        return self.person or str(self.index)


def region_names(count: int) -> tuple[str, ...]:
    """Region names: realistic ones up to six regions, then region-1, region-2, ..."""
    if count <= len(REGION_NAMES):
        return REGION_NAMES[:count]
    return tuple(f"region-{k + 1}" for k in range(count))


def make_uid(seed: int, *parts: object) -> str:
    """A deterministic UUID-derived UID (2.25.<128-bit integer>) for the cohort seed + parts.

    (pydicom's generate_uid ignores entropy sources when the prefix is 2.25: random.)
    """
    text = "/".join(["lungscreen-synth", str(seed), *(str(p) for p in parts)])
    digest = hashlib.sha256(text.encode()).digest()[:16]
    return f"2.25.{int(uuid.UUID(bytes=digest, version=4))}"


def assign_defects(rng: np.random.Generator, studies: int, share: float) -> dict[int, str]:
    """Study index -> defect kind for `share` of `studies` studies, the kinds in turn."""
    kinds = list(DEFECTS)
    n_defects = round(share * studies)
    defect_of: dict[int, str] = {}
    offset = int(rng.integers(len(kinds)))
    for k, i in enumerate(sorted(rng.permutation(studies)[:n_defects].tolist())):
        defect_of[i] = kinds[(offset + k) % len(kinds)]
    return defect_of


def pick_syntax(rng: np.random.Generator, defect: str | None) -> str:
    """A study's transfer syntax: the mix of those that can be written here."""
    usable = available_syntaxes()
    mix = [(uid, w) for uid, w in _SYNTAX_MIX if usable[uid]]
    weights = np.array([w for _, w in mix]) / sum(w for _, w in mix)
    syntax = mix[int(rng.choice(len(mix), p=weights))][0]
    if defect == "truncated_file":  # cut inside native pixel data: reliably detectable
        syntax = ExplicitVRLittleEndian
    return str(syntax)


def plan_cohort(*, studies: int, regions: int, seed: int, profile: str, defects: bool,
                defect_share: float = 0.4, canary: bool = False) -> tuple[StudyPlan, ...]:
    """One plan per study; deterministic for the arguments."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0807]))
    names = region_names(regions)
    sites = {r: make_sites(rng, r, int(rng.integers(2, 4))) for r in names}
    defect_of = assign_defects(rng, studies, defect_share if defects else 0.0)
    plans = []
    for i in range(studies):
        srng = np.random.default_rng(np.random.SeedSequence([seed, 0x57D7, i]))
        region = names[i % len(names)]
        site = sites[region][int(srng.integers(len(sites[region])))]
        defect = defect_of.get(i)
        syntax = pick_syntax(srng, defect)
        plans.append(StudyPlan(
            index=i,
            seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
            profile=profile,
            site=site,
            identity=make_identity(srng, site, i, canary=canary),
            vendor=int(srng.integers(len(VENDORS))),
            syntax=syntax,
            defect=defect,
            study_uid=make_uid(seed, i, "study"),
            frame_uid=make_uid(seed, i, "frame"),
            uid_root=make_uid(seed, i, "series")[:40],
            table_z=float(-srng.uniform(100.0, 450.0)),
            kvp=float(srng.choice([100.0, 110.0, 120.0])),
            tube_ma=float(srng.uniform(15.0, 60.0)),
            patient_position=str(srng.choice(["FFS", "HFS"], p=[0.3, 0.7])),
            detail_seed=int(srng.integers(2**31)),
        ))
    return tuple(plans)
