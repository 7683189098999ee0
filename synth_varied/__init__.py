"""The varied cohort family: synthetic LDCT written independently of `synth`'s anatomy,
varying what a real population and its scanners vary (`lungscreen synth --family varied`).

- `make_varied(seed)` (synth_varied.volume): one study in memory, HU + nodule truth;
- `write_varied_cohort(out, studies=, regions=, seed=)` (synth_varied.writing): a DICOM
  cohort through synth's DICOM writer, with synth's truth format beside it;
- `write_varied_follow_up(out, prior, months=, seed=)` (synth_varied.round_writing): the
  next screening round of a varied cohort (the same people, rescanned; people.jsonl);
- `write_family_cohort(family, out, ...)`, `write_family_follow_up(out, prior, ...)`
  (synth_varied.families): either family by name, a follow-up by its prior's family.
"""

from synth_varied.families import (
    DEFAULT_FAMILY,
    FAMILIES,
    check_family,
    write_family_cohort,
    write_family_follow_up,
)
from synth_varied.round_writing import write_varied_follow_up
from synth_varied.volume import VariedNodule, VariedStudy, make_varied
from synth_varied.writing import write_varied_cohort

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "VariedNodule", "VariedStudy", "check_family",
           "make_varied", "write_family_cohort", "write_family_follow_up",
           "write_varied_cohort", "write_varied_follow_up"]
