"""`lungscreen serve` as users start it: a subprocess on a free port (printed), over HTTP and
over TLS with a certificate, bound to loopback by default."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = folder / "tls.crt", folder / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    return crt, pem


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_serve_prints_its_address_and_answers(tmp_path, tls):
    store = f"sqlite:///{tmp_path / 'data' / 'results.db'}"
    from cli.main import main

    assert main(["token", "init"]) == 0
    assert main(["token", "create", "--role", "ops", "--name", "ops-1", "--store", store]) == 0
    argv = [sys.executable, "-m", "cli.main", "serve", "--store", store, "--port", "0"]
    verify: bool | str = True
    if tls:
        crt, pem = _self_signed(tmp_path)
        argv += ["--certfile", str(crt), "--keyfile", str(pem)]
        verify = str(crt)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1], env=dict(os.environ))
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"serving on (https?://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        assert url.startswith("https" if tls else "http:")
        spec = requests.get(f"{url}/openapi.json", timeout=10, verify=verify).json()
        assert "/api/v1/campaigns/{campaign_id}/report" in spec["paths"]
        assert requests.get(f"{url}/api/v1/health", timeout=10, verify=verify).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
