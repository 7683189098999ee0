"""The servers a Triton client talks to: one gRPC channel each (message limits raised to
2 GiB, fresh channels after an outage), its shared-memory pool, round-robin picking over the
healthy ones, cool-down after a failure and a probe before a suspect gets traffic again."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from cluster.triton.config import TritonClientConfig
from cluster.triton.shm import ShmPool

__all__ = ["MAX_MESSAGE", "Server", "ServerHealth", "ServerPool"]

_log = logging.getLogger("cluster")

MAX_MESSAGE = 2**31 - 1
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


@dataclass(frozen=True)
class ServerHealth:
    """One server's state as the client sees it."""

    url: str
    live: bool
    model_ready: bool
    cooling_down: bool


class Server:
    """One server: its gRPC channel, its shared-memory pool, and whether it is cooling
    down after a failure (`down_until`) or must be probed before traffic (`suspect`)."""

    def __init__(self, url: str, use_shm: bool) -> None:
        self.url = url
        self.client = self._connect()
        self.use_shm = use_shm
        self.shm: ShmPool | None = None
        self.down_until = 0.0
        self.suspect = False
        self.lock = threading.Lock()
        self.probing = threading.Lock()

    def _connect(self) -> grpcclient.InferenceServerClient:
        return grpcclient.InferenceServerClient(
            self.url,
            channel_args=[
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 0),
                # A recovered server must be reachable at once: no subchannel (and its
                # reconnect backoff) shared with the channel that saw it die, short backoff.
                ("grpc.use_local_subchannel_pool", 1),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )

    def reconnect(self) -> None:
        old, self.client = self.client, self._connect()
        old.close()

    def pool(self, probe_timeout_s: float) -> ShmPool:
        with self.lock:
            if self.shm is None:
                self.shm = ShmPool(
                    register=lambda name, key, size: self.client.register_system_shared_memory(
                        name, key, size, client_timeout=probe_timeout_s
                    ),
                    unregister=lambda name: self.client.unregister_system_shared_memory(
                        name, client_timeout=probe_timeout_s
                    ),
                    registered=lambda: self.client.get_system_shared_memory_status(
                        as_json=True, client_timeout=probe_timeout_s
                    ).get("regions", {}),
                )
            return self.shm

    def drop_pool(self, grace_s: float = 10.0) -> None:
        with self.lock:
            pool, self.shm = self.shm, None
        if pool is not None:
            pool.close(grace_s)

    def mark_down(self, cooldown_s: float) -> None:
        self.down_until = time.monotonic() + cooldown_s
        self.suspect = True
        self.drop_pool(grace_s=0)  # it is gone; a restarted one has forgotten registrations


class ServerPool:
    """The configured servers, picked round-robin among the healthy."""

    def __init__(self, config: TritonClientConfig) -> None:
        self._config = config
        self.servers = [Server(url, self._shm_wanted(url)) for url in config.urls]
        self._next = 0
        self._lock = threading.Lock()
        self.model_version = config.model_version  # what readiness probes ask for

    def _shm_wanted(self, url: str) -> bool:
        mode = self._config.shared_memory
        return mode == "on" or (mode == "auto" and url.startswith(_LOOPBACK))

    def health(self) -> tuple[ServerHealth, ...]:
        """Probe every server now (live, and the model ready)."""
        now = time.monotonic()
        return tuple(
            ServerHealth(
                url=s.url,
                live=self.probe(s, model=False),
                model_ready=self.probe(s, model=True),
                cooling_down=s.down_until > now,
            )
            for s in self.servers
        )

    def close(self) -> None:
        """Unregister shared memory and close the channels."""
        for server in self.servers:
            server.drop_pool()
            server.client.close()

    def probe(self, server: Server, model: bool) -> bool:
        timeout = self._config.probe_timeout_s
        try:
            if model:
                return bool(
                    server.client.is_model_ready(
                        self._config.model_name, self.model_version, client_timeout=timeout
                    )
                )
            return bool(server.client.is_server_live(client_timeout=timeout))
        except InferenceServerException:
            return False

    def pick(self, exclude: Server | None, ignore_cooldown: bool = False) -> Server | None:
        """The next healthy server, round-robin; a suspect (failed before) is probed first.

        Servers in their cool-down are skipped unless `ignore_cooldown` (when every server
        is cooling down, retrying them beats giving up).
        """
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.servers)
        now = time.monotonic()
        order = self.servers[start:] + self.servers[:start]
        if ignore_cooldown:
            order.sort(key=lambda s: s.down_until)
        for server in order:
            if server is exclude or (server.down_until > now and not ignore_cooldown):
                continue
            if server.suspect:
                if not server.probing.acquire(blocking=False):
                    continue  # another thread is probing it
                try:
                    server.reconnect()  # a fresh channel: no reconnect backoff from the outage
                    if not self.probe(server, model=True):
                        server.mark_down(self._config.cooldown_s)
                        continue
                    server.suspect = False
                finally:
                    server.probing.release()
                _log.info("triton server %s is healthy again", server.url)
            return server
        return None

    def another_healthy(self, failed: Server) -> bool:
        now = time.monotonic()
        return any(s is not failed and s.down_until <= now for s in self.servers)
