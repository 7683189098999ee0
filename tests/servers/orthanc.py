"""The real Orthanc (bench.pacs.start_orthanc) as fixtures: `orthanc_server` (session) and
`orthanc` (the same server, emptied before the test). Upload with
`OrthancServer.upload(paths)`; the DICOMweb root is `OrthancServer.dicomweb_url`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bench.pacs import OrthancMissing, OrthancServer
from bench.pacs import start_orthanc as _start

__all__ = ["OrthancServer", "orthanc", "orthanc_server", "start_orthanc"]


@contextlib.contextmanager
def start_orthanc() -> Iterator[OrthancServer]:
    """bench.pacs.start_orthanc, failing the test (with what to do) where it is missing."""
    try:
        with _start() as server:
            yield server
    except OrthancMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def orthanc_server() -> Iterator[OrthancServer]:
    with start_orthanc() as server:
        yield server


@pytest.fixture
def orthanc(orthanc_server: OrthancServer) -> OrthancServer:
    orthanc_server.clear()
    return orthanc_server
