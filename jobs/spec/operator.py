"""Who runs a command: the operating system's account and host, as the audit trail's
operator. Read from the process (its real user id and the host name), never from an
environment variable, which whoever runs the command could set to anyone."""

from __future__ import annotations

import os
import pwd
import socket

__all__ = ["os_operator"]


def os_operator() -> str:
    """`account@host` of the process: the account of its real user id (pwd), the host
    from socket.gethostname(); `uid<N>` when the account has no name."""
    uid = os.getuid()
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:
        account = f"uid{uid}"
    host = socket.gethostname() or "localhost"
    return f"{account}@{host}"[:128]
