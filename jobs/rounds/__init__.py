"""Screening rounds: each screen read against the person's prior.

The driver finds each person's latest prior screen in the campaigns a spec names as
`priors` (`priors.find_priors`); the worker measures the lungs' box (`lungbox`), matches the
nodules to the prior's in the lung-relative frame (`matching`) and reads the screen with
Lung-RADS v2022's follow-up rules (`compare.read_round`, kernel.followup). Where the prior's
pixels are at hand, the two scans are registered and matched nodules measured again side by
side (`registered.register_prior`, `side_by_side`).
"""

from jobs.rounds.compare import read_round
from jobs.rounds.lungbox import lung_box
from jobs.rounds.registered import register_prior

__all__ = ["lung_box", "read_round", "register_prior"]
