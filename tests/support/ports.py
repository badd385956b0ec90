"""Free local ports."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_ports(n: int, host: str = HOST) -> list[int]:
    """`n` distinct ports nobody listens on right now (all bound at once, read, closed)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port(host: str = HOST) -> int:
    return free_ports(1, host)[0]
