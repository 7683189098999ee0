"""A hostile DICOMweb archive on loopback: it trickles, floods, pages without end, or nests
JSON deeply. Each attack ends in a clear error within the source's deadline, in bounded
memory, instead of hanging or reading gigabytes."""

from __future__ import annotations

import http.server
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from jobs.ingest.sources.dicomweb import DicomWebSource
from kernel.errors import PermanentError, RetryableError

STUDY = {"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}


class _Hostile(http.server.BaseHTTPRequestHandler):
    mode = "trickle"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        mode = type(self).mode
        if mode == "trickle":
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        elif mode == "flood":
            self.send_header("Content-Length", str(200 << 20))
            self.end_headers()
            self.wfile.write(b"[")
            for _ in range(200 << 4):
                self.wfile.write(b" " * (1 << 16))
        elif mode == "forever":
            offset = int(self.path.split("offset=")[1].split("&")[0]) if "offset=" in self.path \
                else 0
            page = [{"0020000D": {"vr": "UI", "Value": [f"1.2.{offset + i}"]}}
                    for i in range(10)]
            body = json.dumps(page).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "nested":
            body = b"[" * 200_000 + b"]" * 200_000
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def hostile() -> Iterator[type[_Hostile]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hostile.url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"  # type: ignore[attr-defined]
    try:
        yield _Hostile
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("mode", "error", "message"), [
    ("trickle", RetryableError, "did not finish an answer within 2 s"),
    ("flood", PermanentError, "answer over 1048576 bytes"),
    ("forever", PermanentError, "more than 5 pages of 10"),
    ("nested", PermanentError, "nested too deeply"),
])
def test_a_hostile_archive_is_cut_off_in_time_and_memory(hostile, mode, error, message):
    hostile.mode = mode
    web = DicomWebSource(hostile.url, timeout_s=2, attempts=1, page_size=10, max_pages=5,  # type: ignore[attr-defined]
                         max_response_bytes=1 << 20)
    start = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(error, match=message):
            list(web.scan())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 10, mode
    assert peak < 32 << 20, (mode, peak)
