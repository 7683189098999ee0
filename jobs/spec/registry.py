"""Where `campaign resume ID` and `campaign cancel ID` find a campaign's spec.

At its first run a campaign's validated spec (no PHI: ids, folders, URLs, env variable
names; relative paths already made absolute) is saved as JSON, owner-only, in two places:

- the registry folder (`--state-dir`, default `$XDG_STATE_HOME/lungscreen` or
  `~/.local/state/lungscreen`): `campaigns/<ID>.json`, so `resume ID` works from anywhere;
- the campaign's data folder: `<data_dir>/campaigns/<ID>/spec.json`, kept with its results.

`resume --spec SPEC` bypasses the registry; the store then checks that the spec's digest is
the campaign's (a changed spec must be a new campaign id).
"""

from __future__ import annotations

import json
from pathlib import Path

from jobs.spec.campaign_spec import CampaignSpec, parse_spec
from jobs.spec.files import write_private
from jobs.spec.state import default_state_dir
from kernel.errors import BadInput

__all__ = ["SpecRegistry", "default_state_dir"]


class SpecRegistry:
    """Saved specs by campaign id (see the module doc)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def _index(self, campaign_id: str) -> Path:
        return self.state_dir / "campaigns" / f"{campaign_id}.json"

    def save(self, spec: CampaignSpec) -> None:
        doc = spec.model_dump(mode="json", exclude_none=True)
        # the key in use, written out: a resume elsewhere (another state folder) must not
        # quietly create a new key and new pseudonyms
        doc.setdefault("privacy", {})["key_file"] = str(spec.key_path)
        text = json.dumps(doc, indent=1, sort_keys=True)
        for path in (self._index(spec.id), spec.data_dir / "campaigns" / spec.id / "spec.json"):
            write_private(path, text.encode("utf-8"), prefix=".spec-", folder_mode=0o700)

    def load(self, campaign_id: str, data_dir: Path | None = None) -> CampaignSpec:
        """The saved spec of `campaign_id`; BadInput, saying what to do, when there is none."""
        candidates = [self._index(campaign_id)]
        if data_dir is not None:
            candidates.append(data_dir / "campaigns" / campaign_id / "spec.json")
        for path in candidates:
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                return parse_spec(data, base_dir=path.parent)
        raise BadInput(
            f"no saved spec for campaign {campaign_id!r} in {self.state_dir}"
            + (f" or {data_dir}" if data_dir else "")
            + "; pass the campaign's spec with --spec SPEC (or --state-dir where it ran)"
        )
