"""Screening rounds: each screen read against the person's prior.

The driver finds each person's latest prior screen in the campaigns a spec names as
`priors` (`priors.find_priors`); the worker measures the lungs' box (`lungbox`), matches the
nodules to the prior's in the lung-relative frame (`matching`) and reads the screen with
Lung-RADS v2022's follow-up rules (`compare.read_round`, kernel.followup).
"""

from jobs.rounds.compare import read_round
from jobs.rounds.lungbox import lung_box

__all__ = ["lung_box", "read_round"]
