"""A throwaway local PACS: a real Orthanc with its DICOMweb plugin on 127.0.0.1, a free port,
basic auth on, storage in a temp folder, removed when done. The clinical benchmark sends to
it; the tests' `orthanc` fixtures (tests/servers/orthanc.py) are built on it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

__all__ = ["OrthancMissing", "OrthancServer", "start_orthanc"]

PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
USER, PASSWORD = "lungscreen", "orthanc-test-password"


class OrthancMissing(RuntimeError):
    """Orthanc or its DICOMweb plugin is not installed here."""


@dataclass(frozen=True)
class OrthancServer:
    url: str  # REST root
    auth: tuple[str, str]
    workdir: Path

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def upload(self, paths: Iterable[Path]) -> int:
        """Store files through Orthanc's REST API; returns how many were accepted."""
        stored = 0
        with requests.Session() as s:
            s.auth = self.auth
            for path in paths:
                r = s.post(f"{self.url}/instances", data=path.read_bytes(), timeout=30)
                r.raise_for_status()
                stored += 1
        return stored

    def clear(self) -> None:
        with requests.Session() as s:
            s.auth = self.auth
            for study in s.get(f"{self.url}/studies", timeout=30).json():
                s.delete(f"{self.url}/studies/{study}", timeout=30).raise_for_status()


def _plugin() -> Path | None:
    for d in PLUGIN_DIRS:
        for p in sorted(d.glob("libOrthancDicomWeb.so*")):
            return p
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def start_orthanc() -> Iterator[OrthancServer]:
    """A real Orthanc with DICOMweb and basic auth on a free loopback port, removed after."""
    binary = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    plugin = _plugin()
    if not Path(binary).exists() or plugin is None:
        raise OrthancMissing("Orthanc and orthanc-dicomweb are not installed (run .ci/setup)")
    work = Path(tempfile.mkdtemp(prefix="lungscreen-orthanc-"))
    port = _free_port()
    config = {
        "Name": "lungscreen-test",
        "HttpPort": port,
        "DicomServerEnabled": False,
        "DicomPort": _free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "StorageDirectory": str(work / "storage"),
        "IndexDirectory": str(work / "index"),
        "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (work / "orthanc.json").write_text(json.dumps(config))
    log = open(work / "orthanc.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen([binary, str(work / "orthanc.json")], stdout=log, stderr=log)
    server = OrthancServer(f"http://127.0.0.1:{port}", (USER, PASSWORD), work)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {proc.returncode}; see {work}/orthanc.log")
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"{server.url}/system", auth=server.auth, timeout=2)
                if r.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not start in 60 s; see {work}/orthanc.log")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
