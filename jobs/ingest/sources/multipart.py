"""A bounded reader of WADO-RS answers (multipart/related, RFC 2046): one part at a time,
each at most `max_part_bytes`, the whole answer at most `max_total_bytes` and done by a
deadline, so an archive that floods or trickles is cut off instead of filling memory or
holding a worker forever."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kernel.errors import PermanentError, RetryableError

__all__ = ["Limits", "boundary_of", "iter_parts"]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """What one answer may take. `who` names the archive in errors (never a UID)."""

    who: str
    max_part_bytes: int
    max_total_bytes: int
    deadline_s: float


def boundary_of(content_type: str, who: str) -> bytes:
    """The boundary parameter of a multipart Content-Type; PermanentError when absent."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/related":
        raise PermanentError(f"DICOMweb {who} answered WADO-RS with {kind.strip()[:60]!r}; "
                             "expected multipart/related")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1")
    raise PermanentError(f"DICOMweb {who} answered WADO-RS without a multipart boundary")


def iter_parts(read: Callable[[int], bytes], boundary: bytes, limits: Limits) -> Iterator[bytes]:
    """Yield each part's body as it completes. `read(n)` returns up to n bytes, b"" at the
    end. PermanentError past a size limit or for a malformed answer; RetryableError past the
    deadline."""
    deadline = time.monotonic() + limits.deadline_s
    delimiter = b"\r\n--" + boundary
    buf = bytearray(b"\r\n")  # the first delimiter may open the body without a CRLF
    total = 0
    eof = False

    def more() -> None:
        nonlocal total, eof
        if time.monotonic() > deadline:
            raise RetryableError(f"DICOMweb {limits.who} did not finish a WADO-RS answer "
                                 f"within {limits.deadline_s:g} s; check the archive's load "
                                 "and the network")
        chunk = read(_CHUNK)
        if not chunk:
            eof = True
            return
        total += len(chunk)
        if total > limits.max_total_bytes:
            raise PermanentError(f"DICOMweb {limits.who} sent a WADO-RS answer over "
                                 f"{limits.max_total_bytes} bytes for one series; refusing "
                                 "the rest")
        buf.extend(chunk)

    def find(needle: bytes, start: int) -> int:
        scanned = start
        while True:
            at = buf.find(needle, scanned)
            if at >= 0:
                return at
            if eof:
                raise PermanentError(f"DICOMweb {limits.who} sent a WADO-RS answer cut short "
                                     "or malformed (a multipart delimiter is missing)")
            if len(buf) - start > limits.max_part_bytes + len(needle) + 4096:
                raise PermanentError(f"DICOMweb {limits.who} sent a WADO-RS part over "
                                     f"{limits.max_part_bytes} bytes; no instance of a "
                                     "screening series is that large")
            scanned = max(start, len(buf) - len(needle))
            more()

    at = find(delimiter, 0)
    del buf[: at + len(delimiter)]
    while True:
        while len(buf) < 2 and not eof:
            more()
        if buf[:2] == b"--":  # the close delimiter
            return
        head_end = find(b"\r\n\r\n", 0)
        body_start = head_end + 4
        end = find(delimiter, body_start)
        with memoryview(buf) as view:
            part = bytes(view[body_start:end])  # one copy, then the buffer lets it go
        del buf[: end + len(delimiter)]
        yield part
        del part
