"""A DICOMweb archive: QIDO-RS to discover instances with their headers, WADO-RS to read them.

WADO-RS answers are read as they stream (jobs.ingest.sources.multipart: one instance in
memory at a time, each at most `max_instance_bytes`, a series at most `max_series_bytes`
and within `retrieve_timeout_s`). QIDO-RS pages are bounded as well (bytes, total time,
pages per level, studies per archive). Every call has a timeout and is
retried with backoff by urllib3's `Retry` on the session when the server is down,
overloaded (HTTP 5xx, 429) or unreachable; errors are mapped at this seam:

- 401 / 403 -> BadInput naming the archive root and the variables to set;
- 5xx, 429, connection errors, timeouts (after the retries) -> RetryableError;
- other 4xx -> PermanentError (or BadInput when the root itself is wrong).

Messages name the archive root only, never a study/series/instance path (UIDs are PHI).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from pydicom import dcmread
from pydicom.dataset import Dataset
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jobs.ingest.dicom.headers import (
    HEADER_KEYWORDS,
    FileRejection,
    SliceHeader,
    header_from_dataset,
)
from jobs.ingest.sources.multipart import Limits, boundary_of, iter_parts
from kernel.errors import BadInput, PermanentError, RetryableError
from kernel.reasons import FileReason

__all__ = ["DicomWebSource"]

log = logging.getLogger("lungscreen.dicomweb")
_RETRY_STATUS = (429, 500, 502, 503, 504)

AVAILABLE_TRANSFER_SYNTAX = "00083002"
_TAG_HEX = {
    "StudyInstanceUID": "0020000D",
    "SeriesInstanceUID": "0020000E",
    "SOPInstanceUID": "00080018",
}


class DicomWebSource:
    """Studies in a DICOMweb archive rooted at `url` (e.g. http://pacs:8042/dicom-web).

    `auth` is (username, password) for HTTP basic authentication, read by the caller at
    the CLI / spec edge. `credentials_env` names the environment variables they came from:
    a pickled copy (a Ray task's argument) never carries `auth`, and reads the credentials
    from its own process's environment (a worker's secret) when it first connects.
    Locators are "study/series/instance" UIDs, kept in memory only.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        credentials_env: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        page_size: int = 500,
        max_response_bytes: int = 64 << 20,
        max_pages: int = 10_000,
        max_studies: int = 1_000_000,
        max_instance_bytes: int = 64 << 20,
        max_series_bytes: int = 1 << 30,
        retrieve_timeout_s: float = 600.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput(f"DICOMweb URL {url!r} is not http(s)://HOST/PATH; pass the QIDO root")
        self.url = url.rstrip("/")
        self.auth = auth
        self.credentials_env = credentials_env
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.page_size = page_size
        self.max_response_bytes = max_response_bytes  # one QIDO-RS page, at most
        self.max_pages = max_pages  # per QIDO-RS level (studies, a study's series, ...)
        self.max_studies = max_studies  # per archive
        self.max_instance_bytes = max_instance_bytes  # one WADO-RS part
        self.max_series_bytes = max_series_bytes  # one series' WADO-RS answer
        self.retrieve_timeout_s = retrieve_timeout_s  # one series' WADO-RS answer, in total
        self._session: requests.Session | None = None

    @property
    def label(self) -> str:
        return urlsplit(self.url).hostname or "dicomweb"

    def __repr__(self) -> str:
        return f"DicomWebSource({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None  # sessions hold sockets; each process opens its own
        state["auth"] = None  # secrets never travel: a copy reads its own environment
        return state

    def _credentials(self) -> tuple[str, str] | None:
        if self.auth is not None or self.credentials_env is None:
            return self.auth
        values = tuple(os.environ.get(name, "") for name in self.credentials_env)
        if not all(values):
            missing = " and ".join(n for n, v in zip(self.credentials_env, values, strict=True)
                                   if not v)
            # retryable: a worker without the secret gives its shard back (another node may
            # hold it; ops see the message and the stall alert), no study is quarantined
            raise RetryableError(
                f"DICOMweb {self.label}: {missing} not set in this worker's environment; "
                "expected the archive's credentials there (the worker group's secret)")
        return values[0], values[1]

    # discovery

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        fields = [*HEADER_KEYWORDS, AVAILABLE_TRANSFER_SYNTAX]
        for n, study in enumerate(self._qido("studies", {})):
            if n >= self.max_studies:
                raise PermanentError(
                    f"DICOMweb {self.url} lists more than {self.max_studies} studies; a "
                    "campaign source is capped there (split the archive's studies over "
                    "sources, or raise max_studies)")
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
        for _ in range(self.max_pages):
            page_params = {**params, "limit": self.page_size, "offset": offset}
            status, body = self._get_body(path, params=page_params,
                                          accept="application/dicom+json")
            if status == 204 or not body:
                return
            try:
                page = json.loads(body)
            except RecursionError:
                raise PermanentError(f"DICOMweb {self.url} returned QIDO-RS JSON nested too "
                                     "deeply to be an answer") from None
            except ValueError as exc:
                raise PermanentError(
                    f"DICOMweb {self.url} returned a QIDO-RS answer that is not JSON; "
                    "check that the URL is the archive's DICOMweb root"
                ) from exc
            if not isinstance(page, list):
                raise PermanentError(f"DICOMweb {self.url} returned a QIDO-RS answer not a list")
            if len(page) > self.page_size:
                raise PermanentError(f"DICOMweb {self.url} answered {len(page)} items to a page "
                                     f"of {self.page_size}; it ignores QIDO-RS limit")
            yield from (item for item in page if isinstance(item, dict))
            if len(page) < self.page_size:
                return
            offset += len(page)
        raise PermanentError(
            f"DICOMweb {self.url}: more than {self.max_pages} pages of {self.page_size} at one "
            "QIDO-RS level; the archive pages without end (or raise max_pages)")

    # retrieval

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        wanted: dict[tuple[str, str], dict[str, list[int]]] = {}
        for i, h in enumerate(headers):
            series = wanted.setdefault((h.study_uid, h.series_uid), {})
            series.setdefault(h.sop_uid, []).append(i)
        for (study_uid, series_uid), sops in wanted.items():
            left = set(sops)
            for ds in self._series(study_uid, series_uid):
                sop = str(ds.get("SOPInstanceUID", ""))
                for i in sops.get(sop, ()):
                    yield i, ds
                left.discard(sop)
                if not left:
                    break  # the rest of the series was not selected: not read

    def _series(self, study_uid: str, series_uid: str) -> Iterator[Dataset]:
        """One series by WADO-RS, each instance decoded as its part completes."""
        # transfer-syntax=*: as stored. Without it the archive must transcode to Explicit VR
        # Little Endian, which Orthanc cannot do for JPEG 2000 (it answers 500).
        accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
        try:
            response = self._http().get(f"{self.url}/studies/{study_uid}/series/{series_uid}",
                                        headers={"Accept": accept}, timeout=self.timeout_s,
                                        stream=True)
        except requests.RequestException as exc:
            raise self._unavailable(exc) from None
        limits = Limits(self.url, self.max_instance_bytes, self.max_series_bytes,
                        self.retrieve_timeout_s)
        try:
            self._check(response.status_code, "series", qido=False)
            boundary = boundary_of(response.headers.get("Content-Type", ""), self.url)
            parts = iter_parts(lambda n: response.raw.read1(n, decode_content=True),
                               boundary, limits)
            for part in parts:
                yield _instance(part, self.url)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unavailable(exc) from None
        finally:
            response.close()

    # HTTP with retries and error mapping

    def _http(self) -> requests.Session:
        """The session: basic auth, and retries with exponential backoff (urllib3) for
        connection errors, timeouts, 429 and 5xx answers to GETs."""
        if self._session is None:
            auth = self._credentials()
            session = requests.Session()
            if auth is not None:
                session.auth = auth
            n = self.attempts - 1
            retry = Retry(total=n, connect=n, read=n, status=n, other=0,
                          backoff_factor=self.backoff_s, status_forcelist=_RETRY_STATUS,
                          allowed_methods=frozenset({"GET"}), raise_on_status=False,
                          respect_retry_after_header=True)
            for scheme in ("http://", "https://"):
                session.mount(scheme, HTTPAdapter(max_retries=retry))
            self._session = session
        return self._session

    def _get_body(self, path: str, *, params: dict[str, Any], accept: str) -> tuple[int, bytes]:
        """A QIDO-RS answer read whole, but bounded: at most `max_response_bytes`, and done
        within `timeout_s` in total (a server that trickles a byte at a time is cut off:
        the per-read timeout alone restarts with every byte)."""
        try:
            response = self._http().get(f"{self.url}/{path}", params=params,
                                        headers={"Accept": accept}, timeout=self.timeout_s,
                                        stream=True)
        except requests.RequestException as exc:
            raise self._unavailable(exc) from None
        deadline = time.monotonic() + self.timeout_s
        body = bytearray()
        try:
            self._check(response.status_code, path, qido=True)
            while chunk := response.raw.read1(1 << 16, decode_content=True):
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise PermanentError(
                        f"DICOMweb {self.url} sent a QIDO-RS answer over "
                        f"{self.max_response_bytes} bytes; it is not a page of "
                        f"{self.page_size} instances")
                if time.monotonic() > deadline:
                    raise RetryableError(
                        f"DICOMweb {self.url} did not finish an answer within "
                        f"{self.timeout_s:g} s; check the archive's load and the network")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unavailable(exc) from None
        finally:
            response.close()
        return response.status_code, bytes(body)

    def _unavailable(self, exc: BaseException | None, status: int | None = None
                     ) -> RetryableError:
        if status is not None:
            last = f"HTTP {status}"
        elif isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
            last = f"no answer within {self.timeout_s:g} s"
        else:
            last = f"cannot connect ({type(exc).__name__})"
        return RetryableError(
            f"DICOMweb {self.url} unavailable after {self.attempts} tries ({last}); "
            "check that the archive is up and reachable, then retry"
        )

    def _check(self, status: int, path: str, *, qido: bool) -> None:
        """Map an HTTP status left after the retries (see the module doc)."""
        if status < 400:
            return
        if status in _RETRY_STATUS:
            raise self._unavailable(None, status)
        if status in (401, 403):
            raise BadInput(
                f"DICOMweb {self.url} refused access (HTTP {status}); set the archive's "
                "username and password (for `lungscreen scan`: LUNGSCREEN_DICOMWEB_USER and "
                "LUNGSCREEN_DICOMWEB_PASSWORD; in a spec: username_env / password_env)"
            )
        if status == 404 and path == "studies":
            raise BadInput(
                f"DICOMweb {self.url} has no QIDO-RS studies endpoint (HTTP 404); "
                "expected the DICOMweb root, e.g. http://HOST:8042/dicom-web"
            )
        raise PermanentError(
            f"DICOMweb {self.url} answered HTTP {status} to a "
            f"{'QIDO-RS' if qido else 'WADO-RS'} request; the study may "
            "have been deleted or moved since discovery"
        )


def _instance(part: bytes, who: str) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dcmread(io.BytesIO(part))  # PS3.10, as application/dicom is
    except Exception as exc:  # a malformed part may raise anything
        raise PermanentError(f"DICOMweb {who} sent a WADO-RS part that is not a DICOM "
                             f"instance ({type(exc).__name__})") from None


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
