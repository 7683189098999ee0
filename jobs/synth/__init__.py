"""Synthetic low-dose chest CT: in-memory phantoms with nodule truth, and DICOM cohorts.

The public surface is `jobs.synth.phantom` (make_phantom, Phantom, NoduleTruth, crop_z,
study_category) and, for whole cohorts, `jobs.synth.cohort.write_cohort`.
"""

__all__: list[str] = []
