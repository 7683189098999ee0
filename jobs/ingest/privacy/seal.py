"""Sealed locators: what a worker gets to find a study's slices, and no more.

A selected series names its slices by locator (a path inside a folder source, which in real
archives often holds a patient's name; or DICOMweb UIDs) and by UIDs. A Ray task's
arguments are pickled into the object store and may be spilled to disk on any node, so the
driver seals them: the series' slice locators and UIDs become one AES-GCM token under a
subkey of the deployment's pseudonym key, and they and the demographic header fields are
dropped from the slices it sends (`Selected.for_loading`, one copy per slice). One token per
series, not per slice: sealing slice by slice was half the driver's CPU per study in
`lungscreen bench scale`. A worker opens the tokens with the key file mounted on its own
node (the same path, as the Kubernetes worker groups mount it); nothing in the task
arguments identifies anyone or opens an archive.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jobs.ingest.discovery import DiscoveredSeries, DiscoveredStudy
from jobs.ingest.privacy.keys import read_key
from jobs.ingest.selection import Selected
from kernel.errors import BadInput, RetryableError

__all__ = ["LocatorSeal", "SealedSelection"]

_INFO = b"lungscreen/locator-seal/v2"  # v2: one token per series
_NONCE = 12


@dataclass(frozen=True)
class SealedSelection:
    """A selected series as a task carries it: sealed slices and the key file's path (a
    path, never the key)."""

    key_file: str
    selected: Selected  # its slices without locators or UIDs
    token: str  # the slices' locators and UIDs, in order, sealed as one

    def open(self) -> Selected:
        """The series with its locators and UIDs back, for loading; RetryableError when this
        node has no key to open it with (the shard goes back; no study is quarantined)."""
        return _seal_for(self.key_file).open(self.selected, self.token)


class LocatorSeal:
    """Seals and opens the locators of a `Selected` under a subkey of `key`, the key held
    in `key_file` (the path workers open it from)."""

    def __init__(self, key: bytes, key_file: Path | str = "") -> None:
        self._aead = AESGCM(hmac.new(key, _INFO, hashlib.sha256).digest())
        self.key_file = str(key_file)

    def seal(self, selected: Selected) -> SealedSelection:
        token = self._seal([[h.locator, h.study_uid, h.series_uid, h.sop_uid,
                             h.frame_of_reference_uid] for h in selected.slices])
        return SealedSelection(self.key_file, selected.for_loading(strip_locators=True), token)

    def open(self, sealed: Selected, token: str) -> Selected:
        rows = self._open(token)
        if len(rows) != len(sealed.slices):
            raise RetryableError(f"a sealed series names {len(rows)} slices but carries "
                                 f"{len(sealed.slices)}: it was sealed for another selection")
        slices = tuple(
            replace(h, locator=str(locator), study_uid=str(study), series_uid=str(series),
                    sop_uid=str(sop), frame_of_reference_uid=frame)
            for h, (locator, study, series, sop, frame) in zip(sealed.slices, rows, strict=True))
        first = slices[0] if slices else None
        disc = DiscoveredSeries(sealed.series.source, first.series_uid if first else "", slices)
        found = DiscoveredStudy(first.study_uid if first else "", (disc,))
        return Selected(found, disc, slices, sealed.spacing, ())

    def _seal(self, fields: list[list[str | None]]) -> str:
        nonce = os.urandom(_NONCE)
        data = json.dumps(fields, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, data, _INFO)).decode()

    def _open(self, token: str) -> list[list[str | None]]:
        try:
            raw = base64.urlsafe_b64decode(token.encode())
            fields = json.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _INFO))
        except (InvalidTag, ValueError) as exc:
            raise RetryableError("a sealed study locator does not open with this node's "
                                 "pseudonym key; expected the deployment's key at the "
                                 "spec's privacy.key_file on every worker") from exc
        return list(fields)


@functools.lru_cache(maxsize=4)
def _seal_for(key_file: str) -> LocatorSeal:
    try:
        return LocatorSeal(read_key(Path(key_file)), key_file)
    except (BadInput, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise RetryableError(f"this worker cannot read the pseudonym key {key_file!r} ({why}); "
                             "expected the deployment's key there on every worker node (a "
                             "secret mount) to open the studies it is sent") from exc
