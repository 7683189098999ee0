"""The privacy budget, accounted per person: rho per increment, and the total one person may
spend over every increment of the deployment.

A person spends an increment's rho each time they contribute to it: one result measured in
an increment (one per screening round; a revised result, committed again, lands in a later
increment and is another contribution). "A person" is approximated by the patient
pseudonym: what each one has spent is counted from the results, over the measurement
records (the ledger) of every campaign in the store. A measurement that would take anyone
past the total is refused before any noise is drawn, and the refusal says only how many
persons it would take past it, never who.

Deployment settings (environment): LUNGSCREEN_RELEASE_RHO (per increment) and
LUNGSCREEN_RELEASE_RHO_TOTAL (per person).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from kernel.errors import BadInput, PermanentError

__all__ = ["DEFAULT_RHO", "DEFAULT_RHO_TOTAL", "Budget", "BudgetExhausted", "check_budget"]

DEFAULT_RHO = 0.5
"""zCDP per increment (about epsilon 6.9 at delta 1e-9): sigma^2 = 12 over three levels x four
query families (sensitivity sqrt 12). Chosen from measured utility (tests/release_utility.py,
12,000 synthetic results in 6 increments of 2,000, three runs): the positive rate of groups
of >= 1,000 screened reads a median 0.18-0.34 percentage points off (p95 1.2-1.5) at 0.5,
against 0.33-0.58 (p95 1.8-2.6) at 0.15 and 0.36-0.50 at 0.25; 0.5 is the smallest rho
tried that keeps the median under the 0.5 points asked for with room to spare."""

DEFAULT_RHO_TOTAL = 2.0
"""zCDP one person may spend in all: four contributions at the default (e.g. four annual
rounds, or three and one revised result); about epsilon 15.2 at delta 1e-9 over all of
them, below the US Census 2020's rho 2.63 per person."""

_TOLERANCE = 1e-9  # OpenDP accounts 0.15 as 0.14999999999999997


@dataclass(frozen=True)
class Budget:
    """The deployment's budget: rho per increment, and the total per person."""

    rho: float = DEFAULT_RHO
    total: float = DEFAULT_RHO_TOTAL

    def __post_init__(self) -> None:
        for name, value in (("rho", self.rho), ("total", self.total)):
            if not (math.isfinite(value) and value > 0):
                raise BadInput(f"privacy budget {name} {value!r}: expected a positive number")
        if self.rho > self.total + _TOLERANCE:
            raise BadInput(f"rho per increment {self.rho} is above the total per person "
                           f"{self.total}: nobody could be measured")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Budget:
        """The deployment's budget from LUNGSCREEN_RELEASE_RHO and
        LUNGSCREEN_RELEASE_RHO_TOTAL in `env` (the CLI passes its environment; defaults
        where unset)."""
        values = {}
        for key, field in (("LUNGSCREEN_RELEASE_RHO", "rho"),
                           ("LUNGSCREEN_RELEASE_RHO_TOTAL", "total")):
            if env.get(key):
                try:
                    values[field] = float(env[key])
                except ValueError:
                    raise BadInput(f"{key}={env[key][:20]!r}: expected a number") from None
        return cls(**values)

    def to_json(self) -> dict[str, float]:
        """What the measurement record keeps and every table publishes."""
        return {"rho_per_increment": self.rho, "rho_total_per_person": self.total}


class BudgetExhausted(PermanentError):
    """A measurement refused: it would take persons past the deployment's total."""

    def __init__(self, persons: int, budget: Budget) -> None:
        self.persons = persons
        super().__init__(
            f"privacy budget exhausted for {persons} person(s): measuring this increment at "
            f"rho {budget.rho:g} would take them past the {budget.total:g} each may spend; "
            "nothing measured (raise LUNGSCREEN_RELEASE_RHO_TOTAL only by the deployment's "
            "decision, or wait for the next screening round's budget)")


def check_budget(persons: Iterable[str], spent: Mapping[str, float], budget: Budget) -> int:
    """Refuse (BudgetExhausted) when measuring `persons` (the pseudonyms counted in the new
    increment) at budget.rho would take any past budget.total, given what each has `spent`;
    otherwise how many persons the increment counts."""
    at_risk = {p for p, s in spent.items() if s + budget.rho > budget.total + _TOLERANCE}
    people = persons if isinstance(persons, Collection) else list(persons)
    over = sum(1 for person in people if person in at_risk) if at_risk else 0
    if over:
        raise BudgetExhausted(over, budget)
    return len(people)
