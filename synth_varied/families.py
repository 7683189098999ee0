"""The cohort families `lungscreen synth --family NAME` writes, by name.

`standard` is synth's generator (the default: the cohorts every test, demo and model card
was measured on); `varied` is this package's. Only `standard` has profiles and defects;
asking the varied family for one is refused with what to do. Both write follow-up rounds
(`write_family_follow_up`), each of its own prior's family: the prior's cohort.json says
which.
"""

from __future__ import annotations

from pathlib import Path

from kernel.errors import BadInput
from synth.cohort import CohortSummary, write_cohort, write_follow_up
from synth_varied.prior import cohort_family
from synth_varied.round_writing import write_varied_follow_up
from synth_varied.writing import FAMILY, write_varied_cohort

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "check_family", "write_family_cohort",
           "write_family_follow_up"]

DEFAULT_FAMILY = "standard"
FAMILIES = (DEFAULT_FAMILY, FAMILY)


def check_family(family: str, *, profile: str | None = None, defects: bool = False) -> None:
    """BadInput unless `family` is known and can do what is asked of it."""
    if family not in FAMILIES:
        raise BadInput(f"unknown cohort family {family!r}; use one of {', '.join(FAMILIES)} "
                       f"(default {DEFAULT_FAMILY})")
    if family == DEFAULT_FAMILY:
        return
    asked = [flag for flag, on in (("--profile", profile is not None), ("--defects", defects))
             if on]
    if asked:
        raise BadInput(f"{', '.join(asked)} cannot go with --family {family}: that family "
                       f"draws its own acquisition and has no archive defects; leave them "
                       f"out, or use --family {DEFAULT_FAMILY}")


def write_family_cohort(family: str, out: Path, *, studies: int, regions: int, seed: int,
                        profile: str | None = None, defects: bool = False,
                        workers: int | None = None, canary: bool = False) -> CohortSummary:
    """Write a cohort of `family` (module doc); BadInput for an unknown family or an option
    the family does not have."""
    check_family(family, profile=profile, defects=defects)
    if family == DEFAULT_FAMILY:
        return write_cohort(out, studies=studies, regions=regions, seed=seed,
                            profile=profile or "small", defects=defects, workers=workers,
                            canary=canary)
    return write_varied_cohort(out, studies=studies, regions=regions, seed=seed,
                               workers=workers, canary=canary)


def write_family_follow_up(out: Path, prior: Path, *, months: int, seed: int,
                           family: str | None = None, defects: bool = False,
                           workers: int | None = None,
                           canary: bool | None = None) -> CohortSummary:
    """Write the next round of the cohort in `prior` with its own family's writer (its
    cohort.json names the family). BadInput when `family` is given and is not the prior's,
    or the prior's family cannot do what is asked."""
    if family is not None:
        check_family(family)
    own = cohort_family(prior)
    if family is not None and family != own:
        raise BadInput(f"--family {family} cannot go with --follow-up {prior}: that cohort "
                       f"is of the {own!r} family and its next round is too; leave --family "
                       f"out, or pass --family {own}")
    check_family(own, defects=defects)
    if own == DEFAULT_FAMILY:
        return write_follow_up(out, prior, months=months, seed=seed, defects=defects,
                               workers=workers, canary=canary)
    return write_varied_follow_up(out, prior, months=months, seed=seed, workers=workers,
                                  canary=canary)
