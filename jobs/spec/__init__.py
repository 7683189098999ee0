"""The campaign spec (YAML v1): its pydantic model, sources, and where runs keep their specs."""

from jobs.spec.campaign_spec import CampaignSpec, load_spec, parse_spec
from jobs.spec.registry import SpecRegistry

__all__ = ["CampaignSpec", "SpecRegistry", "load_spec", "parse_spec"]
