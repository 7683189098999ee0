"""Reading a varied-family cohort folder as the prior round of a follow-up.

A first-round cohort is re-planned from its cohort.json arguments (synth.plan's plans are a
pure function of them) and checked against its ground truth; a follow-up carries
`people.jsonl` (persons.Person, one record per study). `cohort_family` tells which family
wrote a folder, so that `lungscreen synth --follow-up` can pick the family's writer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.errors import BadInput
from synth.plan import StudyPlan, plan_cohort
from synth.priors import PEOPLE_FILE
from synth_varied.persons import Person
from synth_varied.pose import Pose

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


def _jsonl(root: Path, name: str) -> list[dict[str, Any]]:
    path = root / name
    if not path.is_file():
        raise _bad(root, f"no {name}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise _bad(root, f"{name} line {n} is not JSON ({e.msg})") from None
        if not isinstance(doc, dict):
            raise _bad(root, f"{name} line {n} is not a JSON object")
        out.append(doc)
    return out


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
    if len(plans) != len(truths):
        raise _bad(root, f"cohort.json says {len(plans)} studies, ground_truth.jsonl has "
                   f"{len(truths)}")
    for plan, t in zip(plans, truths, strict=True):
        if (plan.study_uid, plan.identity.PatientID) != (t.get("study_uid"), t.get("patient_id")):
            raise _bad(root, f"study {t.get('index')} is not the one its cohort.json arguments "
                       "plan (edited, or written by another version?)")
    return [_first_seen(p, t) for p, t in zip(plans, truths, strict=True)]


def read_varied_prior(root: Path) -> PriorRound:
    """The varied cohort in `root` as a prior round; BadInput naming what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise _bad(root, "no such folder")
    try:
        meta = json.loads((root / "cohort.json").read_text(encoding="utf-8"))
    except OSError:
        raise _bad(root, "no cohort.json") from None
    except json.JSONDecodeError as e:
        raise _bad(root, f"cohort.json is not JSON ({e.msg})") from None
    if not isinstance(meta, dict) or meta.get("family") != FAMILY:
        raise _bad(root, "cohort.json is not a varied-family cohort's")
    truths = _jsonl(root, "ground_truth.jsonl")
    if not truths:
        raise _bad(root, "ground_truth.jsonl holds no study")
    h = hashlib.sha256((root / "ground_truth.jsonl").read_bytes())
    if "follow_up_of" in meta:
        records = _jsonl(root, PEOPLE_FILE)
        h.update((root / PEOPLE_FILE).read_bytes())
        if [r.get("study_uid") for r in records] != [t.get("study_uid") for t in truths]:
            raise _bad(root, f"{PEOPLE_FILE} does not list ground_truth.jsonl's studies")
        try:
            people = [Person.from_json(r) for r in records]
        except (KeyError, TypeError, ValueError) as e:
            raise _bad(root, f"{PEOPLE_FILE} has an incomplete record ({e!r})") from None
    else:
        people = _replanned(root, meta, truths)
    return PriorRound(root, meta, tuple(truths), tuple(people), h.hexdigest())
