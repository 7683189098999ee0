"""Synthetic low-dose chest CT: in-memory phantoms with nodule truth, and DICOM cohorts.

- `make_phantom(seed, profile)` (synth.phantom): one study in memory, HU + truth;
- `write_cohort(out, studies=, regions=, seed=)` (synth.cohort): a DICOM cohort with
  ground truth beside it.
"""

from synth.cohort import CohortSummary, write_cohort
from synth.phantom import NoduleTruth, Phantom, make_phantom, study_category

__all__ = ["CohortSummary", "NoduleTruth", "Phantom", "make_phantom", "study_category",
           "write_cohort"]
