"""Free ports on 127.0.0.1 for test servers and SIPp runs, below the kernel's ephemeral
range and not handed out twice in a row."""

from __future__ import annotations

import contextlib
import random
import socket
import time

from voxtra.sandbox.errors import SippError

#: Where test servers listen: below the kernel's ephemeral range (32768 and up on
#: Linux), because a client that keeps reconnecting to a loopback port in that range
#: while nothing listens there can be given that very port as its own and connect to
#: itself (a TCP self-connect), holding the port when the server wants it back.
SERVER_PORTS = range(5000, 10000)


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free now on 127.0.0.1, outside the ephemeral range when one can be found."""
    for port in random.sample(SERVER_PORTS, 100):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: UDP ports handed to SIPp runs, and when: not handed out again for a while, since a
#: port is only taken when SIPp starts, and calls placed together would share it.
_HANDED_OUT: dict[int, float] = {}
_HANDED_OUT_FOR = 30.0


def free_udp_ports(count: int) -> int:
    """The first of ``count`` free UDP ports in a row (aligned to ``count``) among
    :data:`SERVER_PORTS`, none handed out to another SIPp run lately; every such block
    is tried (in random order) before giving up."""
    now = time.monotonic()
    for port, since in list(_HANDED_OUT.items()):
        if now - since > _HANDED_OUT_FOR:
            del _HANDED_OUT[port]
    blocks = list(range(SERVER_PORTS.start, SERVER_PORTS.stop - count + 1, count))
    random.shuffle(blocks)
    error: OSError | None = None
    for first in blocks:
        ports = range(first, first + count)
        if any(port in _HANDED_OUT for port in ports):
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in ports:
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
        except OSError as exc:
            error = exc
            continue
        _HANDED_OUT.update(dict.fromkeys(ports, now))
        return first
    raise SippError(f"no {count} free UDP ports in a row for SIPp ({len(_HANDED_OUT)} "
                    f"handed out lately; last error: {error})")


def free_rtp_pair() -> int:
    """SIPp's media port: it binds audio RTP and RTCP there, video RTP and RTCP next."""
    return free_udp_ports(4)
