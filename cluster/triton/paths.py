"""Where the bundled `tritonserver` lives, and how to make it runnable here.

The `nvidia-pytriton` wheel ships a real Triton Inference Server (binary, python backend,
one python-backend stub per Python version, and the shared libraries it links against).
`locate_triton()` finds those pieces and checks the platform; `prepare_backend_dir()` builds
a backend directory with the stub for this interpreter copied beside the python backend (the
layout `tritonserver --backend-directory` expects); `server_environment()` returns the
environment the server and its stubs need (bundled libraries on LD_LIBRARY_PATH, this
interpreter's `bin` first on PATH, because the stub finds its Python through `python3`).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import PermanentError
from kernel.version import installed_version

__all__ = [
    "INSTALL_HINT",
    "TritonInstall",
    "default_cache_dir",
    "locate_triton",
    "prepare_backend_dir",
    "server_environment",
]

INSTALL_HINT = "pip install 'lungscreen[triton]'"
_SUPPORTED_MACHINES = ("x86_64", "amd64")


@dataclass(frozen=True)
class TritonInstall:
    """The pieces of the wheel's Triton distribution that a local server needs."""

    version: str
    binary: Path
    python_backend: Path
    stub: Path
    libs: Path
    python_bin: Path


def _unsupported(why: str) -> PermanentError:
    return PermanentError(
        f"the bundled Triton server cannot run here: {why}. It needs Linux x86-64 with "
        f"{INSTALL_HINT}; elsewhere point the campaign at a running Triton "
        "(triton: {urls: [...]}) or use the in-process backend"
    )


def locate_triton() -> TritonInstall:
    """Find the wheel's tritonserver, python backend, stub and libraries.

    Raises PermanentError, saying what to do, when the platform is not Linux x86-64, the
    wheel is not installed, or a piece of it is missing.
    """
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in _SUPPORTED_MACHINES:
        raise _unsupported(f"platform is {sys.platform}/{machine}")
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise _unsupported("the nvidia-pytriton wheel is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    server = root / "tritonserver"
    py_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstall(
        version=installed_version("nvidia-pytriton"),
        binary=server / "bin" / "tritonserver",
        python_backend=server / "backends" / "python",
        stub=server / "python_backend_stubs" / py_version / "triton_python_backend_stub",
        libs=root.parent / "nvidia_pytriton.libs",
        python_bin=Path(sys.executable).parent,
    )
    for label, path in (
        ("tritonserver binary", install.binary),
        ("python backend", install.python_backend / "libtriton_python.so"),
        (f"python backend stub for Python {py_version}", install.stub),
        ("bundled libraries", install.libs),
    ):
        if not path.exists():
            raise _unsupported(f"the {label} is missing ({path.name})")
    if not os.access(install.binary, os.X_OK):
        raise _unsupported("the tritonserver binary is not executable")
    return install


def default_cache_dir() -> Path:
    """A per-user cache folder for prepared backend directories (under the temp dir)."""
    return Path(tempfile.gettempdir()) / f"lungscreen-triton-{os.getuid()}"


def prepare_backend_dir(install: TritonInstall, cache_dir: Path) -> Path:
    """A backend directory holding the python backend with this interpreter's stub.

    Built once per wheel and Python version under `cache_dir`, atomically (copied into a
    temporary folder, then renamed), so concurrent servers can share it.
    """
    py_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    target = cache_dir / f"backends-{install.version}-py{py_version}"
    if (target / "python" / "triton_python_backend_stub").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".backends-", dir=cache_dir))
    try:
        shutil.copytree(
            install.python_backend,
            staging / "python",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy2(install.stub, staging / "python" / "triton_python_backend_stub")
        try:
            staging.rename(target)
        except OSError:
            if not (target / "python" / "triton_python_backend_stub").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def server_environment(install: TritonInstall, base: Mapping[str, str]) -> dict[str, str]:
    """`base` plus what tritonserver and its python stubs need to start."""
    env = dict(base)
    libs = str(install.libs)
    old = env.get("LD_LIBRARY_PATH")
    env["LD_LIBRARY_PATH"] = f"{libs}:{old}" if old else libs
    path = env.get("PATH", "/usr/bin:/bin")
    env["PATH"] = f"{install.python_bin}:{path}"
    return env
