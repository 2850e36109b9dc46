"""One reader, many listeners: every subscriber gets every item, in order.

Each subscriber has its own bounded queue; when it falls behind, its oldest
items are dropped and counted, so a slow consumer (a recorder, user code)
never delays the others (VAD, speech recognition).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """A subscriber's queue; iterate it with ``async for`` until the fan-out closes."""

    def __init__(self, fanout: Fanout[T], maxsize: int) -> None:
        self._fanout = fanout
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None  # the reader's, while it waits
        self.closed = False
        #: Items dropped because this subscriber did not keep up.
        self.dropped = 0

    def put(self, item: T) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
            self._fanout.dropped += 1
        self._items.append(item)
        self._wake()

    def end(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving (the iterator ends once what is queued has been read)."""
        self._fanout.unsubscribe(self)
        self.end()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class Fanout(Generic[T]):
    """Publishes items to every current subscriber."""

    def __init__(self, maxsize: int = 500) -> None:
        self._maxsize = maxsize
        self._subscribers: list[Subscription[T]] = []
        self.closed = False
        #: Items dropped over all subscribers.
        self.dropped = 0

    def subscribe(self, maxsize: int | None = None) -> Subscription[T]:
        """A new subscriber, receiving what is published from now on."""
        subscription = Subscription(self, maxsize or self._maxsize)
        if self.closed:
            subscription.end()
        else:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def publish(self, item: T) -> None:
        for subscription in self._subscribers:
            subscription.put(item)

    def close(self) -> None:
        """End every subscriber's iteration."""
        self.closed = True
        for subscription in self._subscribers:
            subscription.end()
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)
