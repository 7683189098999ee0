"""The varied cohort family: synthetic LDCT written independently of `synth`'s anatomy,
varying what a real population and its scanners vary.

- `make_varied(seed)` (synth_varied.volume): one study in memory, HU + nodule truth.
"""

from synth_varied.volume import VariedNodule, VariedStudy, make_varied

__all__ = ["VariedNodule", "VariedStudy", "make_varied"]
