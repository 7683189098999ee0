"""The pseudonym key must be the campaign's: its fingerprint (Pseudonymizer.fingerprint(),
recorded in campaigns.key_fingerprint when the campaign started) is compared before recall,
technical recall or a resume uses the key. Under another key every pseudonym differs, so a
recall would find nobody and a resume would screen everyone again as new people."""

from __future__ import annotations

from pathlib import Path

from jobs.store.records import Campaign
from kernel.errors import BadInput

__all__ = ["FINGERPRINT_SHOWN", "check_key", "missing_key"]

FINGERPRINT_SHOWN = 8
"""Hex characters of a fingerprint that messages show (a prefix of an HMAC of a constant:
it says nothing about the key)."""


def check_key(campaign: Campaign, fingerprint: str, key_path: Path, action: str,
              campaign_key_path: Path | None = None) -> None:
    """BadInput when the key at `key_path` (fingerprint `fingerprint`) is not the one
    `campaign` recorded; a campaign that recorded none (an old store) passes. The message
    names the key file in use, where the campaign's was when known (`campaign_key_path`),
    and both fingerprints' prefixes, never the key."""
    recorded = campaign.key_fingerprint
    if recorded is None or recorded == fingerprint:
        return
    where = ("" if campaign_key_path is None or Path(campaign_key_path) == Path(key_path)
             else f" (its spec named {str(campaign_key_path)!r})")
    raise BadInput(
        f"{action} refused: the pseudonym key {str(key_path)!r} (fingerprint "
        f"{fingerprint[:FINGERPRINT_SHOWN]}...) is not the key campaign {campaign.id!r} ran "
        f"with (fingerprint {recorded[:FINGERPRINT_SHOWN]}...){where}; under another key "
        "every pseudonym differs. Restore the campaign's key file at privacy.key_file, or "
        "point --spec at the spec whose key_file holds it")


def missing_key(campaign_id: str, key_path: Path, action: str) -> BadInput:
    """The error for a campaign whose key file is gone (never created again: a new key
    would match nobody)."""
    return BadInput(f"{action} refused: no pseudonym key at {str(key_path)!r}; campaign "
                    f"{campaign_id!r} needs the key it ran with (privacy.key_file): restore "
                    "that file")
