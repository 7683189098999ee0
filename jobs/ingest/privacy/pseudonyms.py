"""Keyed pseudonyms: HMAC-SHA256 under the deployment key, one domain per kind of identifier.

Each pseudonym is the first `PID_HEX_CHARS` hex characters (80 bits) of
HMAC-SHA256(key, "lungscreen/v1/<kind>" + length-prefixed fields). The domain tag keeps a
patient pseudonym from ever equalling a study pseudonym of the same string, and length
prefixes keep ("ab", "c") and ("a", "bc") apart.

Collision odds (birthday bound, p ~ n^2 / 2^(bits+1)): for 10^7 studies at 80 bits,
p ~ 10^14 / 2^81 ~ 4e-11 per campaign. Site codes are 48 bits (`SITE_HEX_CHARS`): for
10^4 sites p ~ 2e-7.

Identifiers are stripped of surrounding whitespace first (DICOM pads LO/UI values), so
"123 " and "123" give the same pseudonym. The same key always gives the same pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["DATE_SHIFT_DAYS", "PID_HEX_CHARS", "SITE_HEX_CHARS", "Pseudonymizer"]

PID_HEX_CHARS = 20
SITE_HEX_CHARS = 12
# a person's exam dates move by 30 to 1,095 days, earlier or later (`date_shift_days`)
DATE_SHIFT_DAYS = (30, 1095)
_MIN_KEY_BYTES = 16


class Pseudonymizer:
    """Maps identifiers to pseudonyms under one key. Thread-safe and cheap to copy."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_KEY_BYTES:
            raise ValueError(
                f"pseudonym key is {len(key)} bytes; expected at least {_MIN_KEY_BYTES} "
                "(use jobs.ingest.privacy.load_or_create_key)"
            )
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "Pseudonymizer(<key hidden>)"

    def fingerprint(self) -> str:
        """A 16-hex fingerprint of the key (an HMAC of a constant: it reveals nothing about
        the key). Stores record it so a campaign never continues under another key."""
        return self._hmac("key-fingerprint", 16)

    def patient(self, patient_id: str) -> str:
        """Pseudonym of a patient (DICOM PatientID)."""
        return self._hmac("patient", PID_HEX_CHARS, patient_id)

    def study(self, patient_id: str, study_uid: str) -> str:
        """Pseudonym of a study (its patient's id and StudyInstanceUID)."""
        return self._hmac("study", PID_HEX_CHARS, patient_id, study_uid)

    def series(self, study_uid: str, series_uid: str) -> str:
        """Pseudonym of a series within its study."""
        return self._hmac("series", PID_HEX_CHARS, study_uid, series_uid)

    def site(self, region: str, institution: str) -> str:
        """Site code ("site-" + 12 hex) of an institution within a region. Institution
        names are compared case-insensitively ("St Mary" and "ST MARY" are one site)."""
        return "site-" + self._hmac("site", SITE_HEX_CHARS, region, institution.upper())

    def date_shift_days(self, patient_id: str) -> int:
        """Days every exam date of this person moves by (DICOM PS3.15's "Retain Longitudinal
        Temporal Information with Modified Dates" option): the same for every study of the
        person under one key, so intervals between screens stay exact, and never under 30
        days either way, so no stored date is the real one."""
        h = int(self._hmac("date-shift", 16, patient_id), 16)
        low, high = DATE_SHIFT_DAYS
        magnitude = low + h % (high - low + 1)
        return -magnitude if (h >> 32) & 1 else magnitude

    def _hmac(self, kind: str, hex_chars: int, *fields: str) -> str:
        mac = hmac.new(self._key, f"lungscreen/v1/{kind}".encode(), hashlib.sha256)
        for value in fields:
            data = str(value).strip().encode("utf-8", "surrogatepass")
            mac.update(len(data).to_bytes(8, "big"))
            mac.update(data)
        return mac.hexdigest()[:hex_chars]
