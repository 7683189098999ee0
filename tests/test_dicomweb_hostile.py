"""A hostile DICOMweb archive on loopback: it trickles, floods, pages without end, or nests
JSON deeply. Each attack ends in a clear error within the source's deadline, in bounded
memory, instead of hanging or reading gigabytes."""

from __future__ import annotations

import http.server
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from jobs.ingest.sources.dicomweb import DicomWebSource
from kernel.errors import PermanentError, RetryableError

STUDY = {"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}


class _Hostile(http.server.BaseHTTPRequestHandler):
    mode = "trickle"
    instance = b""  # a PS3.10 file, for the WADO-RS modes
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        mode = type(self).mode
        if mode.startswith("wado-"):
            self._wado(mode)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
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
        elif mode == "many-studies" and "/series" in self.path:  # each study is empty
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")
        elif mode in ("forever", "many-studies"):
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


    def _wado(self, mode: str) -> None:
        self.send_response(200)
        content_type = ("application/dicom" if mode == "wado-not-multipart" else
                        'multipart/related; type="application/dicom"; boundary=XyZ')
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        self.end_headers()
        head = b"--XyZ\r\nContent-Type: application/dicom\r\n\r\n"
        try:
            if mode == "wado-flood":  # one endless part
                self.wfile.write(head)
                for _ in range(200 << 4):
                    self.wfile.write(b"\0" * (1 << 16))
            elif mode == "wado-trickle":
                self.wfile.write(head)
                for _ in range(1000):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif mode == "wado-many":  # small instances without end
                for _ in range(100_000):
                    self.wfile.write(head + type(self).instance + b"\r\n")
            elif mode == "wado-garbage":
                self.wfile.write(head + b"not DICOM at all" + b"\r\n--XyZ--\r\n")
            elif mode == "wado-not-multipart":
                self.wfile.write(b"\0" * 1000)
        except (BrokenPipeError, ConnectionResetError):
            pass


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


def _cut_off(call: Callable[[], object], error: type[Exception], message: str
             ) -> tuple[float, int]:
    """Seconds and peak traced bytes until `call` raises `error` matching `message`."""
    start = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(error, match=message):
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return time.monotonic() - start, peak


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
    seconds, peak = _cut_off(lambda: list(web.scan()), error, message)
    assert seconds < 10, mode
    assert peak < 32 << 20, (mode, peak)


def _instance_bytes() -> bytes:
    import io

    from tests.dicom_builders import ct_slice

    out = io.BytesIO()  # another instance than the one asked for, so reading goes on
    ct_slice(study_uid="1.2.3", series_uid="1.2.3.4", z=1.0, thickness=2.0, instance=2
             ).save_as(out, enforce_file_format=True)
    return out.getvalue()


def _one_slice_header():  # type: ignore[no-untyped-def]
    from jobs.ingest.dicom.headers import header_from_dataset
    from tests.dicom_builders import ct_slice

    ds = ct_slice(study_uid="1.2.3", series_uid="1.2.3.4", z=0.0, thickness=2.0, instance=1)
    return header_from_dataset(ds, "1.2.3/1.2.3.4/1", "1.2.840.10008.1.2.1",
                               has_pixel_data=True)


@pytest.mark.parametrize(("mode", "error", "message"), [
    ("wado-flood", PermanentError, "WADO-RS part over 262144 bytes"),
    ("wado-trickle", RetryableError, "did not finish a WADO-RS answer within 2 s"),
    ("wado-many", PermanentError, "answer over 524288 bytes for one series"),
    ("wado-garbage", PermanentError, "not a DICOM instance"),
    ("wado-not-multipart", PermanentError, "expected multipart/related"),
])
def test_a_hostile_wado_answer_is_cut_off_in_time_and_memory(hostile, mode, error, message):
    hostile.mode = mode
    hostile.instance = _instance_bytes()
    web = DicomWebSource(hostile.url, timeout_s=2, attempts=1, retrieve_timeout_s=2,  # type: ignore[attr-defined]
                         max_instance_bytes=1 << 18, max_series_bytes=1 << 19)
    header = _one_slice_header()
    seconds, peak = _cut_off(lambda: list(web.read_instances([header])), error, message)
    assert seconds < 10, mode
    assert peak < 16 << 20, (mode, peak)


def test_an_archive_listing_more_studies_than_the_cap_is_refused(hostile):
    hostile.mode = "many-studies"  # a full page of studies at every offset, without end
    web = DicomWebSource(hostile.url, timeout_s=2, attempts=1, page_size=10,  # type: ignore[attr-defined]
                         max_studies=25)
    with pytest.raises(PermanentError, match="more than 25 studies"):
        list(web.scan())
