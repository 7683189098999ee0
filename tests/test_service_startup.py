"""`lungscreen serve` is safe by default: plain HTTP off loopback is refused unless
--insecure-http (then warned); a store, audit key, token key or TLS key that others can read
is refused at start with the chmod fix, before anything is served."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from jobs.store import AuditKey, ResultsStore, TokenKey


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(folder))
    AuditKey.load(folder, create=True)
    TokenKey.load(folder, create=True)
    return folder


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'data' / 'results.db'}"
    ResultsStore.open(url).close()
    return url


def _serve(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["serve", "--port", "0", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "screening.example"])
def test_plain_http_off_loopback_is_refused(state, store, capsys, host) -> None:
    code, err = _serve(capsys, "--store", store, "--host", host)
    assert code == 2 and "not loopback" in err and "--insecure-http" in err
    assert "--certfile" in err and "serving on" not in err


@pytest.mark.parametrize("what", ["store", "wal", "audit.key", "token.key", "tls.key"])
def test_a_file_others_can_read_is_refused_with_the_fix(state, store, tmp_path, capsys,
                                                         what) -> None:
    db = Path(store.removeprefix("sqlite:///"))
    tls = tmp_path / "tls.key"
    tls.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    tls.chmod(0o600)
    target = {"store": db, "wal": Path(f"{db}-wal"), "audit.key": state / "audit.key",
              "token.key": state / "token.key", "tls.key": tls}[what]
    target.touch()
    target.chmod(0o644)
    code, err = _serve(capsys, "--store", store, "--certfile", str(tmp_path / "tls.crt"),
                       "--keyfile", str(tls))
    assert code == 2, err
    assert "readable by group or others" in err and f"chmod 600 {target}" in err
    assert "PRIVATE KEY" not in err and "serving on" not in err


def test_insecure_http_serves_off_loopback_and_warns(state, store) -> None:
    argv = [sys.executable, "-m", "cli.main", "serve", "--store", store, "--port", "0",
            "--host", "0.0.0.0", "--insecure-http"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
                            cwd=Path(__file__).resolve().parents[1])
    try:
        assert proc.stderr is not None
        first, second = proc.stderr.readline(), proc.stderr.readline()
        assert "warning: serving plain HTTP on 0.0.0.0 (--insecure-http)" in first
        assert re.search(r"serving on http://0\.0\.0\.0:\d+", second), second
    finally:
        proc.terminate()
        proc.wait(timeout=30)
