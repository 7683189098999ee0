"""The one threshold rule of an exact report, shared by `lungscreen report` and the service.

The threshold in force is the deployment's floor or the campaign's `privacy.min_cell`,
whichever is higher, and says which of the two it is; a request may raise it, never lower
it. Each caller words a refusal in its own terms (a CLI flag, a query parameter) from the
`BelowThreshold` it gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.defaults import MIN_CELL
from kernel.errors import BadInput

__all__ = ["BelowThreshold", "Threshold", "report_threshold", "threshold_in_force"]


@dataclass(frozen=True)
class Threshold:
    """A suppression threshold and where it comes from: `campaign_id` when the campaign's
    own `min_cell` is in force, None when the deployment's floor is."""

    value: int
    campaign_id: str | None = None

    @property
    def from_campaign(self) -> bool:
        return self.campaign_id is not None

    def describe(self) -> str:
        """The threshold with its source: "the deployment floor 11" or "campaign c-1's
        threshold 20"."""
        if self.campaign_id is None:
            return f"the deployment floor {self.value}"
        return f"campaign {self.campaign_id}'s threshold {self.value}"


class BelowThreshold(BadInput):
    """A requested threshold below the one in force."""

    def __init__(self, asked: int, in_force: Threshold) -> None:
        self.asked, self.in_force = asked, in_force
        super().__init__(f"min_cell {asked} is below {in_force.describe()}; a report may only "
                         "suppress more, never less")


def threshold_in_force(campaign_id: str | None = None, campaign_min_cell: int | None = None,
                       *, floor: int = MIN_CELL) -> Threshold:
    """max(`floor`, the campaign's `min_cell`): the campaign's when it is higher, else the
    floor (the floor binds whatever a campaign says)."""
    if campaign_id is not None and campaign_min_cell is not None and campaign_min_cell > floor:
        return Threshold(campaign_min_cell, campaign_id)
    return Threshold(floor)


def report_threshold(asked: int | None, in_force: Threshold) -> int:
    """The threshold a report uses: `in_force` unless `asked` raises it; BelowThreshold when
    `asked` is lower."""
    if asked is None:
        return in_force.value
    if asked < in_force.value:
        raise BelowThreshold(asked, in_force)
    return asked
