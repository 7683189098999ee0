"""The API's response bodies, as published in /openapi.json. Each mirrors what its route
returns (tests validate real responses against them); none carries a study or a person."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CampaignStatus", "CampaignSummary", "Error", "Health", "Privacy", "Probe",
           "RegionStatus", "Report", "Whoami"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Error(_Model):
    """Every refusal and error: what went wrong and what to do, no PHI."""

    detail: str


class Probe(_Model):
    """A probe's answer (/healthz, /readyz): no data."""

    status: str = Field(examples=["ok"])


class Health(_Model):
    status: str = Field(examples=["ok"])
    version: str


class Whoami(_Model):
    name: str
    role: str = Field(examples=["analyst"])


class CampaignSummary(_Model):
    id: str
    state: str = Field(examples=["running"])


class RegionStatus(_Model):
    shards_planned: int
    shards_done: int
    studies_planned: int
    studies_done: int


class CampaignStatus(_Model):
    campaign: str
    regions: dict[str, RegionStatus]


class PositiveRate(_Model):
    value: float | None
    ci95_low: float | None
    ci95_high: float | None


class Group(_Model):
    """One group of a table: its grouping (`level`), its values (`key`) and its counts.
    The authority's exact table has null counts where suppressed, listed in `suppressed`."""

    level: list[str] = Field(examples=[["region"]])
    key: dict[str, str] = Field(examples=[{"region": "north"}])
    counts: dict[str, int | None]
    positive_rate: PositiveRate
    technical_recall_rate: PositiveRate | None = Field(
        None, description="the authority's exact table: the share of seen studies (opted out "
        "aside) that need a repeat scan or a manual read, with its 95% interval")
    suppressed: list[str] | None = None
    mean_stage_seconds: dict[str, float | None] | None = None


class Increment(_Model):
    increment: int
    sigma: float
    rho: float


class Privacy(_Model):
    """The noise of an analyst's released table: discrete Gaussian, zCDP. A null sigma or
    rho means the increments used differ (see `increments`)."""

    mechanism: str = Field(examples=["discrete_gaussian"])
    unit: str
    sigma: float | None
    rho: float | None = Field(description="zCDP rho per increment")
    rho_total: float = Field(description="rho over the increments this table covers")
    rho_total_per_person: float | None = Field(description="the deployment's budget")
    increments: list[Increment]


class DataPeriod(_Model):
    first_result: str | None
    latest_result: str | None


class Report(_Model):
    """A campaign's table. An analyst's is released (`released`: true, with `privacy` and
    `measures`); the authority's is exact, with `min_cell` and suppression, and no
    `privacy`."""

    schema_version: str
    campaign: str
    by: list[str]
    groups: list[Group]
    released: bool = False
    privacy: Privacy | None = None
    measures: list[str] | None = None
    generated_at: str | None = None
    model: str | None = None
    data_period: DataPeriod | None = None
    min_cell: int | None = None
    protection_span: int | None = None
    hidden_cells: int | None = None
    unaudited_cells: int | None = None
    studies_per_second: float | None = None
