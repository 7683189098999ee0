"""The opt-out list: patients who asked not to be screened, held only as pseudonyms.

The file has one patient id per line; blank lines and lines starting with "#" are ignored,
surrounding whitespace is stripped. Ids are hashed as they are read, so the raw ids never
stay in memory and never reach a log. Opted-out studies are excluded before any pixel is
read and counted with reason `opted_out`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jobs.ingest.privacy.pseudonyms import Pseudonymizer
from kernel.errors import BadInput

__all__ = ["OptOutList"]


class OptOutList:
    """A set of patient pseudonyms that must not be screened."""

    __slots__ = ("_pids", "_pseudonymizer")

    def __init__(self, pseudonymizer: Pseudonymizer, patient_ids: Iterable[str] = ()) -> None:
        self._pseudonymizer = pseudonymizer
        self._pids: frozenset[str] = frozenset(
            pseudonymizer.patient(pid) for pid in patient_ids if pid.strip()
        )

    @classmethod
    def load(cls, path: Path | str | None, pseudonymizer: Pseudonymizer) -> OptOutList:
        """Read an opt-out file (None: nobody opted out). BadInput if it cannot be read."""
        if path is None:
            return cls(pseudonymizer)
        path = Path(path)
        try:
            with path.open(encoding="utf-8") as fh:
                return cls(pseudonymizer, _ids(fh))
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise BadInput(
                f"privacy.opt_out: cannot read {str(path)!r} ({why}); expected a UTF-8 text "
                "file with one patient id per line"
            ) from exc

    def __len__(self) -> int:
        return len(self._pids)

    def __repr__(self) -> str:
        return f"OptOutList(<{len(self._pids)} patients>)"

    def is_opted_out(self, patient_id: str | None) -> bool:
        """True if this raw patient id (as in the DICOM header) is on the list."""
        if not patient_id or not patient_id.strip():
            return False
        return self._pseudonymizer.patient(patient_id) in self._pids

    def is_opted_out_pid(self, patient_pid: str) -> bool:
        """True if this patient pseudonym is on the list."""
        return patient_pid in self._pids


def _ids(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text
