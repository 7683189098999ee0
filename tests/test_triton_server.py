"""The local Triton server: readiness, loopback binding, clean stop, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster.triton import paths as triton_paths
from cluster.triton.server import LocalTritonServer, TritonServerConfig
from kernel.errors import BadInput, PermanentError
from tests.servers.triton import SLOW_MODEL, TEST_MODELS

REPO_ROOT = Path(__file__).resolve().parent.parent


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _group(pgid: int) -> list[int]:
    """Live pids whose process group is `pgid` (the server and its python stubs)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def _wait_gone(pids: list[int], timeout_s: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


@pytest.mark.integration
def test_parent_killed_leaves_no_server_behind(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from tests.servers.triton import start_test_triton\n"
        "s = start_test_triton()\n"
        "print(s.pid, s.shm_prefix, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert line, "the parent did not start a server"
        server_pid, shm_prefix = int(line[0]), line[1]
        group = _group(server_pid)
        assert server_pid in group and len(group) >= 2, "expected the server and a stub"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_gone(group) == [], "tritonserver or a stub outlived its parent"
        assert not list(Path("/dev/shm").glob(f"{shm_prefix}*"))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@pytest.mark.integration
@pytest.mark.slow
def test_stop_ends_the_process_group_and_a_taken_port_is_bad_input(
    slow_triton_server: LocalTritonServer,
) -> None:
    taken = int(slow_triton_server.grpc_url.rsplit(":", 1)[1])
    config = TritonServerConfig(
        model_repositories=(TEST_MODELS,), models=(SLOW_MODEL,), grpc_port=taken
    )
    with pytest.raises(BadInput, match="already in use"):
        LocalTritonServer(config).start()
    server = LocalTritonServer(
        TritonServerConfig(model_repositories=(TEST_MODELS,), models=(SLOW_MODEL,))
    )
    with server:
        group = _group(server.pid)
        prefix = server.shm_prefix
        assert len(group) >= 2
    assert _wait_gone(group, timeout_s=5) == []
    assert not list(Path("/dev/shm").glob(f"{prefix}*"))
    assert slow_triton_server.running()


def test_unsupported_platform_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triton_paths.platform, "machine", lambda: "aarch64")
    with pytest.raises(PermanentError, match=r"pip install 'lungscreen\[triton\]'"):
        triton_paths.locate_triton()


def test_config_is_checked_at_the_edge(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a folder"):
        TritonServerConfig(model_repositories=(tmp_path / "missing",))
    with pytest.raises(BadInput, match="port"):
        TritonServerConfig(grpc_port=70000)


def test_server_environment_puts_libs_and_this_python_first() -> None:
    install = triton_paths.locate_triton()
    env = triton_paths.server_environment(install, {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/x"})
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["LD_LIBRARY_PATH"] == f"{install.libs}:/x"
    assert os.access(Path(env["PATH"].split(":")[0]) / "python3", os.X_OK)
