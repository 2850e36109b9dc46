"""Fan-out of received audio: every subscriber gets every item; a slow one drops its own."""

from __future__ import annotations

import asyncio

from voxtra.media.fanout import Fanout


async def test_every_subscriber_gets_every_item_in_order() -> None:
    fanout: Fanout[int] = Fanout(maxsize=100)
    first, second = fanout.subscribe(), fanout.subscribe()

    async def read(subscription: object) -> list[int]:
        return [item async for item in subscription]  # type: ignore[attr-defined]

    readers = [asyncio.create_task(read(s)) for s in (first, second)]
    for item in range(50):
        fanout.publish(item)
        if item % 7 == 0:
            await asyncio.sleep(0)  # readers run between some items, not others
    fanout.close()
    assert await asyncio.gather(*readers) == [list(range(50)), list(range(50))]


async def test_a_slow_subscriber_drops_its_oldest_without_delaying_others() -> None:
    fanout: Fanout[int] = Fanout(maxsize=10)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    got: list[int] = []

    async def read_fast() -> None:
        async for item in fast:
            got.append(item)

    reader = asyncio.create_task(read_fast())
    for item in range(30):
        fanout.publish(item)
        await asyncio.sleep(0)
    fanout.close()
    await reader
    kept = [item async for item in slow]
    assert got == list(range(30))
    assert kept == list(range(20, 30)) and slow.dropped == 20 and fast.dropped == 0
    assert fanout.dropped == 20


async def test_an_unsubscribed_or_late_subscriber_ends() -> None:
    fanout: Fanout[int] = Fanout()
    early = fanout.subscribe()
    early.close()
    fanout.publish(1)
    assert [item async for item in early] == []
    fanout.close()
    assert [item async for item in fanout.subscribe()] == []
