"""Run the local Triton server in the foreground until Ctrl-C or SIGTERM (`triton serve`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from cluster.triton.server import LocalTritonServer, TritonServerConfig
from kernel.errors import PermanentError

__all__ = ["serve_until_stopped"]


def serve_until_stopped(
    config: TritonServerConfig, on_ready: Callable[[LocalTritonServer], None]
) -> None:
    """Start the server, call `on_ready(server)`, and block until SIGINT/SIGTERM.

    Stops the server on the way out. Raises PermanentError when the server dies on its own.
    Call it from the main thread (it installs signal handlers).
    """
    stop = threading.Event()

    def _handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalTritonServer(config) as server:
            on_ready(server)
            while not stop.wait(1.0):
                if not server.running():
                    raise PermanentError(
                        "tritonserver exited on its own; log tail:\n" + server.log_tail()
                    )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
