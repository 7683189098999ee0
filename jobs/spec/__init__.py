"""The campaign spec (YAML v1): its pydantic model, sources, and where runs keep their specs;
the secrets a command opens a spec's store with (loaded on first use)."""

from typing import TYPE_CHECKING

from jobs.spec.campaign_spec import CampaignSpec, load_spec, parse_spec
from jobs.spec.files import write_private
from jobs.spec.registry import SpecRegistry
from jobs.spec.state import default_state_dir
from kernel.faces import lazy_names

if TYPE_CHECKING:
    from jobs.spec.operator import os_operator
    from jobs.spec.secrets import (
        default_audit_key,
        default_token_key,
        open_spec_store,
        store_password,
    )

# the store's secrets and the operator's name: commands' helpers, off `import jobs`
__getattr__ = lazy_names(__name__, {
    "default_audit_key": "secrets", "default_token_key": "secrets",
    "open_spec_store": "secrets", "store_password": "secrets", "os_operator": "operator"})

__all__ = [
    "CampaignSpec",
    "SpecRegistry",
    "default_audit_key",
    "default_state_dir",
    "default_token_key",
    "load_spec",
    "open_spec_store",
    "os_operator",
    "parse_spec",
    "store_password",
    "write_private",
]
