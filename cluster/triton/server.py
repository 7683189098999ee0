"""The local Triton Inference Server's life cycle: start on loopback, wait, stop, no orphans.

    with LocalTritonServer(TritonServerConfig()) as server:
        backend = TritonBackend(TritonClientConfig(urls=(server.grpc_url,)))

The server runs the `tritonserver` binary from the nvidia-pytriton wheel (see
`cluster.triton.paths`) bound to 127.0.0.1 on free ports (or the ports asked for), in its own
process group, with PR_SET_PDEATHSIG so the kernel kills it when the thread that started it
dies (also on SIGKILL of the parent); its python-backend stubs exit when it does. `stop()`
sends SIGTERM, waits, then SIGKILLs the whole group.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cluster.triton.paths import (
    INSTALL_HINT,
    default_cache_dir,
    locate_triton,
    prepare_backend_dir,
    server_environment,
)
from kernel.contract import MODEL_NAME
from kernel.errors import BadInput, PermanentError, RetryableError

__all__ = ["DEFAULT_REPOSITORY", "LocalTritonServer", "TritonServerConfig"]

_log = logging.getLogger("cluster")

DEFAULT_REPOSITORY = Path(__file__).resolve().parents[2] / "models" / "repository"
_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_PORT_RACE_ATTEMPTS = 3
_SHM_DIR = Path("/dev/shm")


@dataclass(frozen=True)
class TritonServerConfig:
    """How to run the local server. Port 0 means: pick a free port on 127.0.0.1."""

    model_repositories: tuple[Path, ...] = (DEFAULT_REPOSITORY,)
    models: tuple[str, ...] = (MODEL_NAME,)
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    model_config_name: str = ""
    startup_timeout_s: float = 180.0
    stop_timeout_s: float = 20.0
    exit_timeout_s: int = 5
    cache_dir: Path | None = None
    log_verbose: int = 0
    extra_args: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("http_port", "grpc_port", "metrics_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise BadInput(f"{name} {port} is not a port number; use 1-65535, or 0 for free")
        if not self.model_repositories:
            raise BadInput("model_repositories is empty; give at least one model repository")
        for repo in self.model_repositories:
            if not Path(repo).is_dir():
                raise BadInput(
                    f"model repository {repo} is not a folder; expected a Triton model "
                    "repository such as models/repository"
                )
        if self.startup_timeout_s <= 0 or self.stop_timeout_s <= 0:
            raise BadInput("startup_timeout_s and stop_timeout_s must be positive")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent(parent_pid: int) -> None:
    """preexec_fn: SIGKILL this child when the parent thread dies; bail if it already did."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class LocalTritonServer:
    """A `tritonserver` child process on 127.0.0.1; a context manager.

    Attributes after `start()`: `grpc_url` ("127.0.0.1:PORT", what tritonclient.grpc takes),
    `http_url` ("http://127.0.0.1:PORT"), `metrics_url` (".../metrics"), `pid`.
    Raises PermanentError (with what to do) when the binary cannot run here or the models
    do not load, RetryableError when it is not ready within `startup_timeout_s`.
    Start and stop it from the same thread: the kernel ties the server's life to the
    starting thread (PR_SET_PDEATHSIG).
    """

    def __init__(self, config: TritonServerConfig | None = None) -> None:
        self.config = config or TritonServerConfig()
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._ports = (0, 0, 0)
        self.shm_prefix = f"lungscreen_{uuid.uuid4().hex[:12]}_"

    @property
    def grpc_url(self) -> str:
        return f"{_HOST}:{self._ports[1]}"

    @property
    def http_url(self) -> str:
        return f"http://{_HOST}:{self._ports[0]}"

    @property
    def metrics_url(self) -> str:
        return f"http://{_HOST}:{self._ports[2]}/metrics"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._proc.pid

    @property
    def log_path(self) -> Path | None:
        """The server's log file while it runs (removed by stop())."""
        return None if self._workdir is None else self._workdir / "tritonserver.log"

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LocalTritonServer:
        """Start the server and wait until it and every configured model are ready."""
        if self.running():
            return self
        install = locate_triton()
        backends = prepare_backend_dir(install, self.config.cache_dir or default_cache_dir())
        env = server_environment(install, os.environ)
        last: Exception | None = None
        for _ in range(_PORT_RACE_ATTEMPTS):
            self._workdir = Path(tempfile.mkdtemp(prefix="lungscreen-triton-"))
            self._ports = tuple(  # type: ignore[assignment]
                port or _free_port()
                for port in (self.config.http_port, self.config.grpc_port, self.config.metrics_port)
            )
            argv = [str(install.binary), *self._arguments(backends)]
            with open(self._workdir / "tritonserver.log", "wb") as log_file:
                self._proc = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=self._workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=functools.partial(_die_with_parent, os.getpid()),
                )
            try:
                self._wait_ready()
            except _PortTaken as exc:
                last = exc
                self.stop()
                if self.config.http_port or self.config.grpc_port or self.config.metrics_port:
                    raise BadInput(
                        f"a port asked for is already in use ({exc}); choose another, "
                        "or 0 for a free one"
                    ) from None
                continue
            except BaseException:
                self.stop()
                raise
            _log.info("triton ready grpc=%s http=%s pid=%s", self.grpc_url, self.http_url, self.pid)
            return self
        raise RetryableError(f"could not bind free ports for tritonserver after retries: {last}")

    def _arguments(self, backends: Path) -> list[str]:
        http, grpc, metrics = self._ports
        cfg = self.config
        args = [f"--model-repository={Path(r).resolve()}" for r in cfg.model_repositories]
        args += [
            f"--backend-directory={backends}",
            f"--http-address={_HOST}",
            f"--http-port={http}",
            f"--grpc-address={_HOST}",
            f"--grpc-port={grpc}",
            f"--metrics-address={_HOST}",
            f"--metrics-port={metrics}",
            "--allow-sagemaker=false",
            "--allow-vertex-ai=false",
            "--model-control-mode=none",
            "--strict-readiness=true",
            "--exit-on-error=true",
            f"--exit-timeout-secs={cfg.exit_timeout_s}",
            f"--log-verbose={cfg.log_verbose}",
            # One python-backend shm prefix per server: regions never collide, and stop()
            # can remove what a stub killed mid-way leaves in /dev/shm.
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            # Volumes are large: grow the stub's shm arena in big steps.
            "--backend-config=python,shm-growth-byte-size=67108864",
        ]
        if cfg.model_config_name:
            args.append(f"--model-config-name={cfg.model_config_name}")
        return [*args, *cfg.extra_args]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        probes = [f"{self.http_url}/v2/health/ready"]
        probes += [f"{self.http_url}/v2/models/{m}/ready" for m in self.config.models]
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise self._startup_error(self._proc.returncode)
            if all(_http_ok(url) for url in probes):
                return
            time.sleep(0.2)
        raise RetryableError(
            f"tritonserver was not ready within {self.config.startup_timeout_s:.0f} s "
            f"(models {', '.join(self.config.models)}); log tail:\n{self.log_tail()}"
        )

    def _startup_error(self, returncode: int) -> Exception:
        tail = self.log_tail()
        if "error while loading shared libraries" in tail:
            return PermanentError(
                "tritonserver cannot start: a shared library is missing on this machine "
                f"({tail.strip().splitlines()[-1]}). Reinstall with {INSTALL_HINT} on Linux "
                "x86-64 (glibc >= 2.35), or use a running Triton (triton: {urls: [...]})"
            )
        if "address already in use" in tail.lower() or "failed to start" in tail.lower():
            return _PortTaken(tail.strip().splitlines()[-1] if tail.strip() else "port taken")
        failures = self._load_failures()
        if failures:
            return PermanentError(
                "tritonserver could not load its models: " + "; ".join(failures)
                + ". Fix the model (or its weights) and start again"
            )
        return PermanentError(
            f"tritonserver exited with code {returncode} before it was ready; check the model "
            f"repository ({', '.join(str(r) for r in self.config.model_repositories)}). "
            f"Log tail:\n{tail}"
        )

    def _load_failures(self) -> list[str]:
        """Triton's "failed to load 'model' version N: why" lines, first line of each why."""
        path = self.log_path
        if path is None or not path.exists():
            return []
        found = []
        for line in path.read_text(errors="replace").splitlines():
            if "failed to load '" in line and "' version " in line:
                why = line.split("failed to load ", 1)[1].replace("\\n", "\n").splitlines()[0]
                found.append(why.strip().strip('"'))
        return found

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of the server's log (empty when there is none)."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_chars))
            return fh.read().decode("utf-8", errors="replace")

    def stop(self) -> None:
        """SIGTERM, wait up to `stop_timeout_s`, then SIGKILL the server's process group."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.config.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    _log.warning("tritonserver pid=%s ignored SIGTERM; killing it", proc.pid)
            # The group also holds the python-backend stubs; kill whatever is left of it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for leftover in _SHM_DIR.glob(f"{self.shm_prefix}*"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> LocalTritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _PortTaken(Exception):
    """A port picked as free was taken before tritonserver bound it (retry with others)."""
