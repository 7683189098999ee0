"""The pseudonym key of a campaign, for whatever uses it after the campaign started (resume,
recall, technical recall): read, never created again, and checked against the fingerprint
the store recorded (jobs.store.keycheck)."""

from __future__ import annotations

from pathlib import Path

from jobs.ingest.privacy import Pseudonymizer, load_or_create_key
from jobs.ingest.privacy.keys import read_key
from jobs.store.keycheck import check_key, missing_key
from jobs.store.records import Campaign

__all__ = ["campaign_key"]


def campaign_key(key_path: Path, campaign: Campaign | None, action: str, *,
                 create: bool = False, campaign_key_path: Path | None = None) -> bytes:
    """The key at `key_path`. Created only when `create` and `campaign` is new (None) or
    recorded no fingerprint (an old store); otherwise read, and BadInput (naming the key
    file, never the key) when it is missing or is not the key `campaign` ran with."""
    if create and (campaign is None or campaign.key_fingerprint is None):
        return load_or_create_key(key_path)
    try:
        key = read_key(key_path)
    except OSError:
        raise missing_key(campaign.id if campaign else "?", key_path, action) from None
    if campaign is not None:
        check_key(campaign, Pseudonymizer(key).fingerprint(), key_path, action,
                  campaign_key_path)
    return key
