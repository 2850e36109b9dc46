"""A UDP relay standing in for a NAT or a port-forwarding proxy (such as Docker's
userland proxy) in front of a range of ports: a datagram sent to ``public_host:port``
reaches ``private_host:port`` from a socket of the relay, and the answers go back out
from ``public_host:port``.

So the private side sees every packet come from the relay, not from the sender, as
behind a proxy; the sender sees answers come from the address it sent to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Address = tuple[str, int]


@dataclass
class RelayStats:
    inbound: int = 0
    outbound: int = 0


class UdpRelay:
    def __init__(self, public_host: str, private_host: str, ports: Iterable[int]) -> None:
        self.public_host = public_host
        self.private_host = private_host
        self.ports = list(ports)
        self.stats = RelayStats()
        self._transports: list[asyncio.DatagramTransport] = []

    async def __aenter__(self) -> UdpRelay:
        for port in self.ports:
            await self._forward(port)
        return self

    async def __aexit__(self, *_: object) -> None:
        for transport in self._transports:
            transport.close()

    async def _forward(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        private = (self.private_host, port)
        outside: list[Address] = []  # whoever last sent to the public address
        public: asyncio.DatagramTransport | None = None

        def from_outside(data: bytes, addr: Address) -> None:
            outside[:] = [addr]
            self.stats.inbound += 1
            inside.sendto(data, private)

        def from_inside(data: bytes, addr: Address) -> None:
            if addr == private and outside and public is not None:
                self.stats.outbound += 1
                public.sendto(data, outside[0])

        inside, _ = await loop.create_datagram_endpoint(
            lambda: _Side(from_inside), local_addr=(self.private_host, 0))
        public, _ = await loop.create_datagram_endpoint(
            lambda: _Side(from_outside), local_addr=(self.public_host, port))
        self._transports += [inside, public]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, Address], None]) -> None:
        self._received = received

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._received(data, (str(addr[0]), int(addr[1])))
