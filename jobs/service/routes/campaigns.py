"""The campaigns a caller may see, and their progress."""

from __future__ import annotations

from fastapi import APIRouter

from jobs.service.deps import Caller, CampaignId, Config, serves
from jobs.service.models import CampaignStatus, CampaignSummary, RegionStatus
from kernel.roles import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["campaigns"])


@router.get("/campaigns", response_model=list[CampaignSummary],
            **serves(Role.AUTHORITY, Role.ANALYST, Role.OPS))
def campaigns(who: Caller, config: Config) -> list[CampaignSummary]:
    """The campaigns in the store that the token's scope covers, with their state."""
    return [CampaignSummary(id=c.id, state=c.state.value) for c in config.store.campaigns()
            if who.sees(c.id)]


@router.get("/campaigns/{campaign_id}/status", response_model=CampaignStatus,
            **serves(Role.AUTHORITY, Role.OPS, errors=(404,)))
def status(campaign_id: CampaignId, config: Config) -> CampaignStatus:
    """Shards and studies planned and done per region (studies settled before inference,
    such as quarantined ones, count as planned and done)."""
    regions = config.store.progress(campaign_id)
    return CampaignStatus(campaign=campaign_id, regions={
        r: RegionStatus(shards_planned=p.shards_planned, shards_done=p.shards_done,
                        studies_planned=p.studies_planned + p.studies_settled_early,
                        studies_done=p.studies_done + p.studies_settled_early)
        for r, p in sorted(regions.items())})
