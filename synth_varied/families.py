"""The cohort families `lungscreen synth --family NAME` writes, by name.

`standard` is synth's generator (the default: the cohorts every test, demo and model card
was measured on); `varied` is this package's. Only `standard` has profiles, defects and
follow-up rounds so far; asking the varied family for one is refused with what to do.
"""

from __future__ import annotations

from pathlib import Path

from kernel.errors import BadInput
from synth.cohort import CohortSummary, write_cohort
from synth_varied.writing import FAMILY, write_varied_cohort

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "check_family", "write_family_cohort"]

DEFAULT_FAMILY = "standard"
FAMILIES = (DEFAULT_FAMILY, FAMILY)


def check_family(family: str, *, profile: str | None = None, defects: bool = False,
                 follow_up: bool = False) -> None:
    """BadInput unless `family` is known and can do what is asked of it."""
    if family not in FAMILIES:
        raise BadInput(f"unknown cohort family {family!r}; use one of {', '.join(FAMILIES)} "
                       f"(default {DEFAULT_FAMILY})")
    if family == DEFAULT_FAMILY:
        return
    asked = [flag for flag, on in (("--follow-up", follow_up), ("--profile", profile is not None),
                                   ("--defects", defects)) if on]
    if asked:
        raise BadInput(f"{', '.join(asked)} cannot go with --family {family}: that family "
                       f"draws its own acquisition, has no archive defects and no follow-up "
                       f"rounds yet; leave them out, or use --family {DEFAULT_FAMILY}")


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
