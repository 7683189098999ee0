"""System shared memory for volumes sent to a Triton server on the same host.

A volume (up to a few hundred MB) is copied once into a POSIX shared-memory segment that the
server has registered, instead of being serialised into a gRPC message. One `ShmPool` per
server: it hands out a region big enough for the volume (creating or growing one, sized up
to a 16 MiB multiple), registers it with the server, takes it back after the request, and
unregisters and unlinks everything on `close()`. Segments are named
`lungscreen-shm-<pid>-<random>`; `sweep_stale_segments()` removes those whose process is gone
(a client killed with SIGKILL cannot clean up after itself; multiprocessing's resource
tracker usually does it for it).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "SEGMENT_PREFIX",
    "ShmPool",
    "ShmRegion",
    "ShmSetupError",
    "sweep_stale_registrations",
    "sweep_stale_segments",
]

SEGMENT_PREFIX = "lungscreen-shm-"
_SHM_DIR = Path("/dev/shm")
_ROUND = 16 * 1024 * 1024

Register = Callable[[str, str, int], None]
"""register(region_name, key, byte_size): make the server map the segment."""
Unregister = Callable[[str], None]
# names of the regions the server has registered (from every client)
Registered = Callable[[], Iterable[str]]
"""unregister(region_name): make the server unmap it."""


class ShmSetupError(Exception):
    """A segment could not be created or registered; `__cause__` says why."""


@dataclass
class ShmRegion:
    """One registered segment: `name` for Triton requests, `key` ("/..." shm_open name)."""

    name: str
    key: str
    byte_size: int
    segment: SharedMemory

    def write(self, array: npt.NDArray[np.generic]) -> int:
        """Copy `array` (C order) to the start of the segment; returns its byte size."""
        view: npt.NDArray[np.generic] = np.ndarray(
            array.shape, dtype=array.dtype, buffer=self.segment.buf
        )
        np.copyto(view, array, casting="no")
        del view
        return int(array.nbytes)

    def destroy(self) -> None:
        """Unmap and unlink the segment."""
        self.segment.close()
        with contextlib.suppress(FileNotFoundError):
            self.segment.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str) -> int | None:
    """The pid a lungscreen segment or region name was made by, None for other names."""
    if not name.startswith(SEGMENT_PREFIX):
        return None
    pid_text = name[len(SEGMENT_PREFIX) :].split("-", 1)[0]
    return int(pid_text) if pid_text.isdigit() else None


def sweep_stale_registrations(registered: Registered, unregister: Unregister) -> int:
    """Unregister, on a server of this host, the regions of lungscreen processes that are
    gone (a Ray worker killed mid-campaign never unregisters its own); returns how many.
    Without this the server keeps each dead region mapped until it restarts."""
    removed = 0
    for name in list(registered()):
        pid = _owner_pid(name)
        if pid is not None and not _pid_alive(pid):
            try:
                unregister(name)
                removed += 1
            except Exception:  # raced with another client's sweep, or the server went away
                continue
    return removed


def sweep_stale_segments(shm_dir: Path = _SHM_DIR) -> int:
    """Unlink lungscreen segments left by dead processes; returns how many."""
    removed = 0
    for path in shm_dir.glob(f"{SEGMENT_PREFIX}*"):
        pid = _owner_pid(path.name)
        if pid is not None and not _pid_alive(pid):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


class ShmPool:
    """Registered shared-memory regions for one server, reused across requests.

    Thread-safe: each concurrent request leases its own region.
    """

    def __init__(
        self, register: Register, unregister: Unregister, registered: Registered | None = None
    ) -> None:
        self._register = register
        self._unregister = unregister
        self._free: list[ShmRegion] = []
        self._all: list[ShmRegion] = []
        # Regions of failed requests (e.g. a client deadline): the server may still read
        # them and refuses to unregister them until the request ends; kept mapped and
        # retried later, never reused.
        self._retired: list[ShmRegion] = []
        self._lock = threading.Lock()
        self._closed = False
        sweep_stale_segments()
        if registered is not None:
            sweep_stale_registrations(registered, unregister)

    @contextlib.contextmanager
    def lease(self, byte_size: int) -> Iterator[ShmRegion]:
        """A registered region of at least `byte_size` bytes, for the duration of a request."""
        region = self._take(byte_size)
        try:
            yield region
        except BaseException:
            with self._lock:
                if region in self._all:
                    self._all.remove(region)
                self._retired.append(region)
            self._reap()
            raise
        with self._lock:
            if not self._closed:
                self._free.append(region)
                return
        self._drop(region)

    def _take(self, byte_size: int) -> ShmRegion:
        self._reap()
        with self._lock:
            if self._closed:
                raise RuntimeError("the shared-memory pool is closed")
            fits = [r for r in self._free if r.byte_size >= byte_size]
            if fits:
                region = min(fits, key=lambda r: r.byte_size)
                self._free.remove(region)
                return region
            # Grow: replace the largest free region by a bigger one.
            old = max(self._free, key=lambda r: r.byte_size) if self._free else None
            if old is not None:
                self._free.remove(old)
                self._all.remove(old)
        if old is not None:
            self._drop(old)
        return self._create(byte_size)

    def _create(self, byte_size: int) -> ShmRegion:
        size = max(_ROUND, -(-byte_size // _ROUND) * _ROUND)
        name = f"{SEGMENT_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            segment = SharedMemory(name=name, create=True, size=size)
        except OSError as exc:
            raise ShmSetupError(f"cannot create a {size}-byte segment in /dev/shm") from exc
        region = ShmRegion(name=name, key=f"/{name}", byte_size=size, segment=segment)
        try:
            self._register(region.name, region.key, region.byte_size)
        except Exception as exc:
            region.destroy()
            raise ShmSetupError(f"the server did not register segment {name}") from exc
        with self._lock:
            self._all.append(region)
        return region

    def _drop(self, region: ShmRegion) -> None:
        """Unregister (best effort: the server may be gone) and unlink."""
        with contextlib.suppress(Exception):
            self._unregister(region.name)
        region.destroy()

    def _reap(self) -> None:
        """Unlink the retired regions the server has let go of."""
        with self._lock:
            retired, self._retired = self._retired, []
        keep = []
        for region in retired:
            try:
                self._unregister(region.name)
            except Exception:
                keep.append(region)
            else:
                region.destroy()
        with self._lock:
            self._retired.extend(keep)

    def close(self, grace_s: float = 10.0) -> None:
        """Unregister and unlink every region (those still leased go when returned).

        Regions of failed requests get up to `grace_s` for the server to let go of them
        (use 0 when the server is gone); after that they are unlinked regardless.
        """
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
            for region in free:
                self._all.remove(region)
        for region in free:
            self._drop(region)
        deadline = time.monotonic() + grace_s
        self._reap()
        while self._retired and time.monotonic() < deadline:
            time.sleep(0.2)
            self._reap()
        with self._lock:
            stuck, self._retired = self._retired, []
        for region in stuck:
            region.destroy()

    @property
    def region_names(self) -> tuple[str, ...]:
        """Regions in use or free (not those retired after a failed request)."""
        with self._lock:
            return tuple(r.name for r in self._all)
