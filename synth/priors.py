"""Reading a cohort folder as the prior round of a follow-up: who each person is, where.

A first-round cohort (`write_cohort`) is re-planned from its cohort.json arguments (the
plans are a pure function of them) and checked against its ground truth; a follow-up
cohort carries `people.jsonl`, one record per study with what its next round needs (the
person's identity and site, the table offset, the pose, the scanner, the nodules' shapes
in anatomy mm). `person_record` writes such a record; `read_prior` reads either kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kernel.errors import BadInput
from synth.acquisition import Pose
from synth.nodules import NoduleSpec
from synth.people import Identity, Site
from synth.plan import StudyPlan, plan_cohort

__all__ = ["PEOPLE_FILE", "Person", "PriorCohort", "PriorStudy", "check_plans", "cohort_digest",
           "person_record",
           "read_cohort_meta", "read_jsonl", "read_people", "read_prior", "read_truths"]

PEOPLE_FILE = "people.jsonl"
P = TypeVar("P")
# make_phantom draws at most five nodules: a person's later nodules are numbered from here
FIRST_NEW_NUMBER = 5


@dataclass(frozen=True)
class Person:
    """What a next round needs to know about a person, as of their last study."""

    key: str  # nodule ids are "<key>-<number>"
    identity: Identity
    site: Site
    table_z: float
    pose: Pose  # the first scan's LPS -> the last scan's LPS
    vendor: int
    patient_position: str
    kvp: float
    scanner: tuple[tuple[str, float], ...]  # ScanParams overrides of the last scanner
    next_number: int
    shapes: tuple[tuple[int, NoduleSpec], ...] | None  # None: make_phantom(seed)'s nodules


@dataclass(frozen=True)
class PriorStudy:
    """One study of the prior cohort: its ground-truth record and its person."""

    truth: dict[str, Any]
    person: Person

    @property
    def round(self) -> int:
        return int(self.truth.get("round", 1))


@dataclass(frozen=True)
class PriorCohort:
    """A prior cohort folder, read."""

    root: Path
    meta: dict[str, Any]  # its cohort.json
    studies: tuple[PriorStudy, ...]
    digest: str  # sha256 of its ground truth and people records

    @property
    def round(self) -> int:
        return max(s.round for s in self.studies)

    @property
    def profile(self) -> str:
        return str(self.studies[0].truth["profile"])


def person_record(plan: StudyPlan, shapes: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The people.jsonl record of a written study (`shapes` from write_study)."""
    visit = plan.follow_up.visit if plan.follow_up is not None else None
    if visit is None:
        pose, scanner, next_number = Pose.identity(), {}, FIRST_NEW_NUMBER
    else:
        pose, scanner, next_number = visit.pose, dict(visit.scanner), visit.next_number
    return {
        "study_uid": plan.study_uid, "index": plan.index, "person": plan.person_key,
        "identity": dataclasses.asdict(plan.identity), "site": dataclasses.asdict(plan.site),
        "table_z": plan.table_z, "pose": pose.to_json(), "vendor": plan.vendor,
        "patient_position": plan.patient_position, "kvp": plan.kvp, "scanner": scanner,
        "next_number": next_number, "nodules": shapes,
    }


def _bad(root: Path, what: str) -> BadInput:
    return BadInput(f"--follow-up {root}: {what}; pass the --out folder of an earlier "
                    "`lungscreen synth` (a baseline or a follow-up cohort), left as it wrote it")


def read_jsonl(root: Path, name: str, bad: Callable[[str], BadInput]) -> list[dict[str, Any]]:
    """The JSON objects of `root`/`name`, one a line; `bad(what)` makes the error."""
    path = root / name
    if not path.is_file():
        raise bad(f"no {name}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise bad(f"{name} line {n} is not JSON ({e.msg})") from None
        if not isinstance(doc, dict):
            raise bad(f"{name} line {n} is not a JSON object")
        out.append(doc)
    return out


def read_cohort_meta(root: Path, bad: Callable[[str], BadInput]) -> Any:
    """A cohort folder's cohort.json (either family's layout), parsed; the caller checks
    that it is its own family's."""
    if not root.is_dir():
        raise bad("no such folder")
    meta_path = root / "cohort.json"
    if not meta_path.is_file():
        raise bad("no cohort.json")
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise bad(f"cohort.json is not JSON ({e.msg})") from None


def read_truths(root: Path, bad: Callable[[str], BadInput]) -> list[dict[str, Any]]:
    """A cohort folder's ground-truth records (at least one)."""
    truths = read_jsonl(root, "ground_truth.jsonl", bad)
    if not truths:
        raise bad("ground_truth.jsonl holds no study")
    return truths


def read_people(root: Path, truths: list[dict[str, Any]], bad: Callable[[str], BadInput],
                parse: Callable[[dict[str, Any]], P]) -> list[P]:
    """A follow-up's people records, one per study of `truths`, each read by `parse`."""
    records = read_jsonl(root, PEOPLE_FILE, bad)
    if [r.get("study_uid") for r in records] != [t.get("study_uid") for t in truths]:
        raise bad(f"{PEOPLE_FILE} does not list ground_truth.jsonl's studies")
    try:
        return [parse(r) for r in records]
    except (KeyError, TypeError, ValueError) as e:
        raise bad(f"{PEOPLE_FILE} has an incomplete record ({e!r})") from None


def cohort_digest(root: Path, follow_up: bool) -> str:
    """sha256 of a cohort's ground truth (and people records, for a follow-up)."""
    h = hashlib.sha256((root / "ground_truth.jsonl").read_bytes())
    if follow_up:
        h.update((root / PEOPLE_FILE).read_bytes())
    return h.hexdigest()


def _from_plan(plan: StudyPlan) -> Person:
    return Person(key=plan.person_key, identity=plan.identity, site=plan.site,
                  table_z=plan.table_z, pose=Pose.identity(), vendor=plan.vendor,
                  patient_position=plan.patient_position, kvp=plan.kvp, scanner=(),
                  next_number=FIRST_NEW_NUMBER, shapes=None)


def _from_record(doc: dict[str, Any]) -> Person:
    shapes = None
    if doc["nodules"] is not None:
        shapes = tuple((int(n["number"]), NoduleSpec.from_json(n["shape"]))
                       for n in doc["nodules"])
    return Person(key=str(doc["person"]), identity=Identity(**doc["identity"]),
                  site=Site(**doc["site"]), table_z=float(doc["table_z"]),
                  pose=Pose.from_json(doc["pose"]), vendor=int(doc["vendor"]),
                  patient_position=str(doc["patient_position"]), kvp=float(doc["kvp"]),
                  scanner=tuple(sorted((str(k), float(v)) for k, v in doc["scanner"].items())),
                  next_number=int(doc["next_number"]), shapes=shapes)


def _replanned(root: Path, meta: dict[str, Any], truths: list[dict[str, Any]]) -> list[Person]:
    """The people of a first-round cohort, from its plans (checked against its truth)."""
    args = meta.get("args", {})
    try:
        plans = plan_cohort(studies=int(args["studies"]), regions=int(args["regions"]),
                            seed=int(args["seed"]), profile=str(args["profile"]),
                            defects=bool(args["defects"]),
                            defect_share=float(args["defect_share"]),
                            canary=bool(args["canary"]))
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(root, f"cohort.json's args are incomplete ({e!r})") from None
    check_plans(plans, truths, lambda what: _bad(root, what))
    return [_from_plan(p) for p in plans]


def check_plans(plans: Sequence[StudyPlan], truths: Sequence[dict[str, Any]],
                bad: Callable[[str], BadInput]) -> None:
    """That a first round's plans, made again from its cohort.json, are its truth's studies."""
    if len(plans) != len(truths):
        raise bad(f"cohort.json says {len(plans)} studies, ground_truth.jsonl has {len(truths)}")
    for plan, t in zip(plans, truths, strict=True):
        if (plan.study_uid, plan.identity.PatientID) != (t.get("study_uid"), t.get("patient_id")):
            raise bad(f"study {t.get('index')} is not the one its cohort.json arguments plan "
                      "(written by another generator version, or edited?)")


def read_prior(root: Path) -> PriorCohort:
    """The cohort in `root` as a prior round. Raises BadInput, naming what is wrong, for a
    folder that is not an unmodified cohort of this generator version."""
    root = Path(root)

    def bad(what: str) -> BadInput:
        return _bad(root, what)

    meta = read_cohort_meta(root, bad)
    if not isinstance(meta, dict) or meta.get("generator") != "lungscreen synth":
        raise _bad(root, "cohort.json was not written by lungscreen synth")
    if meta.get("family", "standard") != "standard":
        raise _bad(root, f"it is a cohort of the {meta['family']!r} family, whose own writer "
                   "writes its follow-ups (`lungscreen synth --follow-up` picks it)")
    truths = read_truths(root, bad)
    if any("round" not in t or any("nodule_id" not in n for n in t.get("nodules", []))
           for t in truths):
        raise _bad(root, f"its truth has no round or nodule ids (generator version "
                   f"{meta.get('version')}); write the prior again with this version")
    follow_up = "follow_up_of" in meta
    people = (read_people(root, truths, bad, _from_record) if follow_up
              else _replanned(root, meta, truths))
    digest = cohort_digest(root, follow_up)
    studies = tuple(PriorStudy(t, p) for t, p in zip(truths, people, strict=True))
    return PriorCohort(root, meta, studies, digest)
