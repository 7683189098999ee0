"""Reading a varied-family cohort folder as the prior round of a follow-up.

A first-round cohort is re-planned from its cohort.json arguments (synth.plan's plans are a
pure function of them) and checked against its ground truth; a follow-up carries
`people.jsonl` (persons.Person, one record per study). `cohort_family` tells which family
wrote a folder, so that `lungscreen synth --follow-up` can pick the family's writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.errors import BadInput
from synth.acquisition import Pose
from synth.plan import StudyPlan, plan_cohort
from synth.priors import check_plans, cohort_digest, read_cohort_meta, read_people, read_truths
from synth_varied.persons import Person

__all__ = ["PriorRound", "cohort_family", "read_varied_prior"]

FAMILY = "varied"


@dataclass(frozen=True)
class PriorRound:
    """A prior cohort of the family, read: its cohort.json, truth records and people."""

    root: Path
    meta: dict[str, Any]
    truths: tuple[dict[str, Any], ...]
    people: tuple[Person, ...]
    digest: str  # sha256 of its ground truth and people records

    @property
    def round(self) -> int:
        return max(int(t["round"]) for t in self.truths)

    @property
    def acquisition(self) -> dict[str, Any] | None:
        """The Scan overrides every study of the cohort was written with (tests' sizes)."""
        acq = self.meta.get("args", {}).get("acquisition")
        return None if acq is None else dict(acq)


def cohort_family(root: Path) -> str:
    """The family whose writer wrote the cohort in `root` ("standard" for a folder without
    a readable cohort.json: the standard reader names what is wrong with it)."""
    try:
        meta = json.loads((Path(root) / "cohort.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "standard"
    return str(meta.get("family", "standard")) if isinstance(meta, dict) else "standard"


def _bad(root: Path, what: str) -> BadInput:
    return BadInput(f"--follow-up {root}: {what}; pass the --out folder of an earlier "
                    "`lungscreen synth --family varied` (a baseline or a follow-up), left as "
                    "it wrote it")


def _first_seen(plan: StudyPlan, truth: dict[str, Any]) -> Person:
    """A person as their first scan (`plan`, its `truth`) left them."""
    return Person(key=plan.person_key, seed=plan.seed, identity=plan.identity, site=plan.site,
                  table_z=plan.table_z, vendor=plan.vendor,
                  patient_position=plan.patient_position, kvp=plan.kvp, pose=Pose.identity(),
                  protocol=None, next_number=len(truth["nodules"]) + 1, lesions=None)


def _replanned(root: Path, meta: dict[str, Any], truths: list[dict[str, Any]]) -> list[Person]:
    args = meta.get("args", {})
    try:
        plans = plan_cohort(studies=int(args["studies"]), regions=int(args["regions"]),
                            seed=int(args["seed"]), profile=FAMILY, defects=False,
                            canary=bool(args["canary"]))
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(root, f"cohort.json's args are incomplete ({e!r})") from None
    check_plans(plans, truths, lambda what: _bad(root, what))
    return [_first_seen(p, t) for p, t in zip(plans, truths, strict=True)]


def read_varied_prior(root: Path) -> PriorRound:
    """The varied cohort in `root` as a prior round; BadInput naming what is wrong."""
    root = Path(root)

    def bad(what: str) -> BadInput:
        return _bad(root, what)

    meta = read_cohort_meta(root, bad)
    if not isinstance(meta, dict) or meta.get("family") != FAMILY:
        raise _bad(root, "cohort.json is not a varied-family cohort's")
    truths = read_truths(root, bad)
    follow_up = "follow_up_of" in meta
    people = (read_people(root, truths, bad, Person.from_json) if follow_up
              else _replanned(root, meta, truths))
    return PriorRound(root, meta, tuple(truths), tuple(people), cohort_digest(root, follow_up))
