"""Synthetic low-dose chest CT: in-memory phantoms with nodule truth, and DICOM cohorts.

- `make_phantom(seed, profile)` (synth.phantom): one study in memory, HU + truth;
- `write_cohort(out, studies=, regions=, seed=)` (synth.cohort): a DICOM cohort with
  ground truth beside it;
- `write_follow_up(out, prior, months=, seed=)` (synth.cohort): the next screening round
  of a cohort, each nodule linked to its prior in the truth.
"""

from synth.cohort import CohortSummary, write_cohort, write_follow_up
from synth.phantom import NoduleTruth, Phantom, make_phantom, study_category

__all__ = ["CohortSummary", "NoduleTruth", "Phantom", "make_phantom", "study_category",
           "write_cohort", "write_follow_up"]
