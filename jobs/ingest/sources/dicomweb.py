"""A DICOMweb archive: QIDO-RS to discover instances with their headers, WADO-RS to read them.

Every call has a timeout and is retried with backoff when the server is down, overloaded
(HTTP 5xx, 429) or unreachable; errors are mapped at this seam:

- 401 / 403 -> BadInput naming the archive root and the variables to set;
- 5xx, 429, connection errors, timeouts (after the retries) -> RetryableError;
- other 4xx -> PermanentError (or BadInput when the root itself is wrong).

Messages name the archive root only, never a study/series/instance path (UIDs are PHI).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import requests
from pydicom import dcmread
from pydicom.dataset import Dataset

from jobs.ingest.dicom.headers import (
    HEADER_KEYWORDS,
    FileRejection,
    SliceHeader,
    header_from_dataset,
)
from kernel.errors import BadInput, PermanentError, RetryableError
from kernel.reasons import FileReason

__all__ = ["DicomWebSource", "parse_multipart"]

log = logging.getLogger("lungscreen.dicomweb")

AVAILABLE_TRANSFER_SYNTAX = "00083002"
_TAG_HEX = {
    "StudyInstanceUID": "0020000D",
    "SeriesInstanceUID": "0020000E",
    "SOPInstanceUID": "00080018",
}


class DicomWebSource:
    """Studies in a DICOMweb archive rooted at `url` (e.g. http://pacs:8042/dicom-web).

    `auth` is (username, password) for HTTP basic authentication, read by the caller at
    the CLI / spec edge. Locators are "study/series/instance" UIDs, kept in memory only.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        page_size: int = 500,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput(f"DICOMweb URL {url!r} is not http(s)://HOST/PATH; pass the QIDO root")
        self.url = url.rstrip("/")
        self.auth = auth
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.page_size = page_size
        self._session: requests.Session | None = None

    @property
    def label(self) -> str:
        return urlsplit(self.url).hostname or "dicomweb"

    def __repr__(self) -> str:
        return f"DicomWebSource({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None  # sessions hold sockets; each process opens its own
        return state

    # discovery

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        fields = [*HEADER_KEYWORDS, AVAILABLE_TRANSFER_SYNTAX]
        for study in self._qido("studies", {}):
            study_uid = _first(study, _TAG_HEX["StudyInstanceUID"])
            if not study_uid:
                continue
            for series in self._qido(f"studies/{study_uid}/series", {}):
                series_uid = _first(series, _TAG_HEX["SeriesInstanceUID"])
                if not series_uid:
                    continue
                path = f"studies/{study_uid}/series/{series_uid}/instances"
                for item in self._qido(path, {"includefield": fields}):
                    yield _header_from_json(item, study_uid, series_uid)

    def _qido(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page_params = {**params, "limit": self.page_size, "offset": offset}
            response = self._get(path, params=page_params, accept="application/dicom+json")
            if response.status_code == 204 or not response.content:
                return
            try:
                page = response.json()
            except ValueError as exc:
                raise PermanentError(
                    f"DICOMweb {self.url} returned a QIDO-RS answer that is not JSON; "
                    "check that the URL is the archive's DICOMweb root"
                ) from exc
            if not isinstance(page, list):
                raise PermanentError(f"DICOMweb {self.url} returned a QIDO-RS answer not a list")
            yield from (item for item in page if isinstance(item, dict))
            if len(page) < self.page_size:
                return
            offset += len(page)

    # retrieval

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        wanted: dict[tuple[str, str], dict[str, list[int]]] = {}
        for i, h in enumerate(headers):
            series = wanted.setdefault((h.study_uid, h.series_uid), {})
            series.setdefault(h.sop_uid, []).append(i)
        for (study_uid, series_uid), sops in wanted.items():
            # transfer-syntax=*: as stored. Without it the archive must transcode to Explicit
            # VR Little Endian, which Orthanc cannot do for JPEG 2000 (it answers 500).
            response = self._get(
                f"studies/{study_uid}/series/{series_uid}",
                accept='multipart/related; type="application/dicom"; transfer-syntax=*',
            )
            for part in parse_multipart(response.headers.get("Content-Type", ""), response.content):
                ds = _read_part(part)
                for i in sops.get(str(ds.get("SOPInstanceUID", "")), ()):
                    yield i, ds

    # HTTP with retries and error mapping

    def _get(
        self, path: str, *, params: dict[str, Any] | None = None, accept: str
    ) -> requests.Response:
        if self._session is None:
            self._session = requests.Session()
            if self.auth is not None:
                self._session.auth = self.auth
        url = f"{self.url}/{path}"
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._session.get(
                    url, params=params, headers={"Accept": accept}, timeout=self.timeout_s
                )
            except requests.Timeout:
                last = f"no answer within {self.timeout_s:g} s"
                continue
            except requests.RequestException as exc:
                last = f"cannot connect ({type(exc).__name__})"
                continue
            status = response.status_code
            if status < 400:
                return response
            if status in (401, 403):
                raise BadInput(
                    f"DICOMweb {self.url} refused access (HTTP {status}); set the archive's "
                    "username and password (for `lungscreen scan`: LUNGSCREEN_DICOMWEB_USER and "
                    "LUNGSCREEN_DICOMWEB_PASSWORD; in a spec: username_env / password_env)"
                )
            if status == 429 or status >= 500:
                last = f"HTTP {status}"
                continue
            if status == 404 and path == "studies":
                raise BadInput(
                    f"DICOMweb {self.url} has no QIDO-RS studies endpoint (HTTP 404); "
                    "expected the DICOMweb root, e.g. http://HOST:8042/dicom-web"
                )
            raise PermanentError(
                f"DICOMweb {self.url} answered HTTP {status} to a "
                f"{'QIDO-RS' if params is not None else 'WADO-RS'} request; the study may "
                "have been deleted or moved since discovery"
            )
        raise RetryableError(
            f"DICOMweb {self.url} unavailable after {self.attempts} tries ({last}); "
            "check that the archive is up and reachable, then retry"
        )


def parse_multipart(content_type: str, body: bytes) -> Iterator[bytes]:
    """The bodies of a multipart/related message (RFC 2046), in order."""
    boundary = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise PermanentError("WADO-RS answer is not multipart/related (no boundary)")
    delimiter = b"--" + boundary.encode("ascii", "replace")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # close delimiter
        _head, sep, rest = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if rest.endswith(b"\r\n"):
            rest = rest[:-2]
        yield rest


def _read_part(part: bytes) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dcmread(BytesIO(part))
    except Exception as exc:
        raise PermanentError(
            f"WADO-RS returned an instance that is not readable DICOM ({type(exc).__name__})"
        ) from exc


def _first(item: dict[str, Any], tag: str) -> str | None:
    element = item.get(tag)
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    if not isinstance(values, list) or not values:
        return None
    return str(values[0]).strip() or None


def _header_from_json(item: dict[str, Any], study: str, series: str) -> SliceHeader | FileRejection:
    sop = _first(item, _TAG_HEX["SOPInstanceUID"]) or "?"
    locator = f"{study}/{series}/{sop}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = Dataset.from_json(item)
    except Exception as exc:
        return FileRejection(
            locator,
            FileReason.UNREADABLE_FILE,
            f"QIDO-RS attributes unreadable ({type(exc).__name__})",
        )
    syntax = _first(item, AVAILABLE_TRANSFER_SYNTAX) or ""
    has_pixels = "00280010" in item and "00280011" in item  # Rows and Columns
    return header_from_dataset(ds, locator, syntax, has_pixel_data=has_pixels)
