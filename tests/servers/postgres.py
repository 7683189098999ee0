"""A real PostgreSQL 15 server for tests: initdb in a temp folder owned by `postgres`, the
server bound to 127.0.0.1 on a free port, a fresh database per test, stopped at the end.

Fixtures: `postgres_server` (session) and `postgres_url` (a new empty database per test,
as a SQLAlchemy URL `postgresql+psycopg://postgres@127.0.0.1:PORT/DB`). Every role logs in
without a password (trust) except `PASSWORD_ROLE`, which needs one over TCP
(scram-sha-256): `create_password_database` makes one of its databases.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "postgres_server", "postgres_url"]

PASSWORD_ROLE = "lungscreen_pw"
PG_BIN = Path(os.environ.get("LUNGSCREEN_PG_BIN", "/usr/lib/postgresql/15/bin"))
_counter = itertools.count()


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    data_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        _run_as_postgres(
            [str(PG_BIN / "createdb"), "-h", str(self.socket_dir), "-p", str(self.port), name]
        )
        return self.url(name)

    def create_password_database(self, name: str, password: str) -> str:
        """A database owned by PASSWORD_ROLE (created with `password`); its URL, without
        the password, which the server asks for."""
        _run_as_postgres([str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-p",
                          str(self.port), "-v", "ON_ERROR_STOP=1", "-c",
                          f"DROP ROLE IF EXISTS {PASSWORD_ROLE}; CREATE ROLE {PASSWORD_ROLE} "
                          f"LOGIN PASSWORD '{password}'", "postgres"])
        _run_as_postgres([str(PG_BIN / "createdb"), "-h", str(self.socket_dir), "-p",
                          str(self.port), "-O", PASSWORD_ROLE, name])
        return f"postgresql+psycopg://{PASSWORD_ROLE}@{self.host}:{self.port}/{name}"


def _run_as_postgres(cmd: list[str]) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *cmd],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if not (PG_BIN / "postgres").exists() or shutil.which("runuser") is None:
        pytest.fail(f"PostgreSQL 15 is not installed at {PG_BIN} (run .ci/setup)")
    pg = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="lungscreen-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    for p in (base, sock):
        os.chown(p, pg.pw_uid, pg.pw_gid)
    os.chmod(base, 0o700)
    _run_as_postgres(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
    )
    hba = data / "pg_hba.conf"  # first match wins: the password role before trust
    hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    port = _free_port()
    log = open(base / "server.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [
            "runuser", "-u", "postgres", "--",
            str(PG_BIN / "postgres"), "-D", str(data), "-k", str(sock), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = PostgresServer("127.0.0.1", port, sock, data)
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", str(sock), "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "PostgreSQL did not start:\n" + (base / "server.log").read_text()[-2000:]
                )
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run_as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast"])
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_postmaster(data)
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _kill_postmaster(data: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t{os.getpid()}_{next(_counter)}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A results-store URL: a fresh SQLite file, then the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/results.db"
    return str(request.getfixturevalue("postgres_url"))
