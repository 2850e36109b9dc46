"""Live speech recognition with Deepgram, on the official ``deepgram-sdk`` (v7).

Each utterance is one websocket to ``/v1/listen`` (the SDK's
``AsyncDeepgramClient.listen.v1.connect``): the options go in the query (``model``,
``language``, ``encoding``, ``sample_rate``, ``channels``, ``interim_results``,
``endpointing``, ``smart_format``), the key in ``Authorization: Token <key>``. Audio
goes up as binary frames of raw samples: ``linear16`` (16-bit little-endian) or
``mulaw`` (G.711 μ-law, one byte a sample: 8 kHz call audio needs no transcoding).
Control messages are JSON text frames: ``KeepAlive`` while no audio flows (Deepgram
closes a stream that gets neither audio nor a message for about 10 s; it suggests one
every 3-5 s), ``Finalize`` to flush (the results for the audio so far come back, the
last marked ``from_finalize``) and ``CloseStream`` (last results, ``Metadata``, then
the server closes).

``Results`` messages carry ``channel.alternatives[0]`` (``transcript``, ``confidence``),
``start`` and ``duration`` (seconds of the stream's audio) and ``is_final``: an interim
result may still change, a final one settles its span, so the utterance is its final
segments joined (``speech_final`` only marks an endpoint within them).

Failures become :class:`ProviderError`: an upgrade answered 401/403 (the key) or 400
(the options) cannot be helped by a retry; a refused or timed-out connection, 429, 5xx
or a connection lost mid-utterance can.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_encode
from voxtra.tasks import TaskSet
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.credentials import api_key as api_key_of
from voxtra.voice.providers.credentials import sdk
from voxtra.voice.stt import STT, STTStream, Transcript

NAME = "deepgram"
#: Bytes per sample of each supported encoding.
ENCODINGS = {"linear16": 2, "mulaw": 1}
#: How long :meth:`STTStream.aclose` lets the server finish after ``CloseStream``.
CLOSE_WAIT = 2.0
_FINALIZE, _CLOSE, _STOP = "Finalize", "CloseStream", None
_EPSILON = 1e-3
#: Streams whose connection outlived ``aclose`` (a server that does not close): kept
#: referenced until they end on their own.
_LINGERING = TaskSet()


class DeepgramSTT(STT):
    """Deepgram streaming recognition: one websocket per utterance.

    ``api_key`` defaults to ``DEEPGRAM_API_KEY``. ``encoding`` is ``linear16`` or
    ``mulaw`` (then ``sample_rate=8000``, the telephone's own format).
    ``endpointing`` is the silence in ms after which Deepgram finalises a segment and marks
    it ``speech_final`` (False turns it off, True takes Deepgram's default). ``base_url``
    is the server's root (``http(s)://`` or ``ws(s)://``) for a self-hosted Deepgram or a
    test server. ``interim_wait`` bounds how long :meth:`STTStream.interim` waits for a
    result covering the audio pushed so far; ``finalize_wait`` how long
    :meth:`STTStream.final` waits, once ``Finalize`` is out, for a next message before it
    takes what it has.
    """

    def __init__(self, *, api_key: str | SecretStr | None = None, model: str = "nova-3",
                 language: str = "en", encoding: str = "linear16", sample_rate: int = 16000,
                 smart_format: bool = True, interim_results: bool = True,
                 endpointing: int | bool = 300, base_url: str | None = None,
                 connect_timeout: float = 5.0, keepalive_interval: float = 3.0,
                 interim_wait: float = 0.3, finalize_wait: float = 1.0) -> None:
        self._key = api_key_of(api_key, "DEEPGRAM_API_KEY", NAME, required=False) \
            or SecretStr("")
        self.model = model
        self.language = language
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.smart_format = smart_format
        self.interim_results = interim_results
        self.endpointing = endpointing
        self.base_url = base_url
        self.connect_timeout = connect_timeout
        self.keepalive_interval = keepalive_interval
        self.interim_wait = interim_wait
        self.finalize_wait = finalize_wait
        self._client: Any = None
        self._validate()

    def __repr__(self) -> str:
        return (f"DeepgramSTT(model={self.model!r}, language={self.language!r}, "
                f"encoding={self.encoding!r}, sample_rate={self.sample_rate}, "
                f"base_url={self.base_url!r})")

    @property
    def bytes_per_second(self) -> int:
        return ENCODINGS[self.encoding] * self.sample_rate

    def load(self) -> None:
        """Check the options and make the SDK's client (no network)."""
        self._validate()
        self._sdk_client()

    def stream(self, hints: Sequence[str] = ()) -> STTStream:
        """A live transcription; ``hints`` are not sent (keyword boosting differs from
        model to model)."""
        return DeepgramStream(self)

    async def check(self) -> None:
        """Open one connection and close it: a rejected key raises, non-retryable."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                socket = await self.open(stack)
                await socket.send_close_stream()
        except Exception as exc:
            raise _error(exc) from exc

    async def open(self, stack: contextlib.AsyncExitStack) -> Any:
        """A live connection (the SDK's ``AsyncV1SocketClient``), closed with ``stack``."""
        endpointing = _flag(self.endpointing) if isinstance(self.endpointing, bool) else \
            int(self.endpointing)
        connection = self._sdk_client().listen.v1.connect(
            model=self.model, language=self.language, encoding=self.encoding,
            sample_rate=self.sample_rate, channels=1, endpointing=endpointing,
            interim_results=_flag(self.interim_results), smart_format=_flag(self.smart_format))
        try:
            return await asyncio.wait_for(stack.enter_async_context(connection),
                                          self.connect_timeout)
        except TimeoutError:
            raise ProviderError(NAME, f"no connection within {self.connect_timeout} s",
                                retryable=True) from None

    def _validate(self) -> None:
        if not self._key.get_secret_value():
            raise ProviderError(NAME, "no API key: set DEEPGRAM_API_KEY or pass api_key=",
                                retryable=False)
        if self.encoding not in ENCODINGS:
            raise ProviderError(NAME, f"encoding {self.encoding!r} is not supported "
                                f"(expected one of {', '.join(ENCODINGS)})", retryable=False)
        if self.sample_rate <= 0 or not self.model:
            raise ProviderError(NAME, "sample_rate must be positive and model not empty",
                                retryable=False)
        if self.base_url is not None:
            _roots(self.base_url)
        if min(self.connect_timeout, self.keepalive_interval) <= 0:
            raise ProviderError(NAME, "connect_timeout and keepalive_interval must be positive",
                                retryable=False)

    def _sdk_client(self) -> Any:
        if self._client is None:
            deepgram = sdk("deepgram", NAME, "deepgram")
            options: dict[str, Any] = {}
            if self.base_url is not None:
                http, ws = _roots(self.base_url)
                options["environment"] = deepgram.DeepgramClientEnvironment(
                    base=http, production=ws, agent=ws, agent_rest=http)
            self._client = deepgram.AsyncDeepgramClient(api_key=self._key.get_secret_value(),
                                                        **options)
        return self._client


@dataclass(frozen=True)
class _Segment:
    text: str
    confidence: float
    end: float


class DeepgramStream(STTStream):
    """One utterance on one connection, opened on the first :meth:`feed`.

    A writer sends what is queued (audio pushed before the connection is up waits in the
    queue) and a ``KeepAlive`` after ``keepalive_interval`` with nothing to send; a reader
    keeps the final segments and the latest interim one.
    """

    def __init__(self, stt: DeepgramSTT) -> None:
        self._stt = stt
        self._outbox: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._pushed = 0  # bytes
        self._heard_until = 0.0  # end of the latest result, in seconds of audio
        self._finals: list[_Segment] = []
        self._interim: _Segment | None = None
        self._language: str | None = stt.language
        self._finalized = self._finishing = self._ended = False
        self._closing = False
        self._finalize_at: float | None = None
        self._last_message = 0.0
        self._error: ProviderError | None = None

    def feed(self, pcm: Pcm) -> None:
        if self._finishing or self._error is not None or not len(pcm):
            return
        data = ulaw_encode(pcm) if self._stt.encoding == "mulaw" else \
            pcm.astype("<i2").tobytes()
        self._pushed += len(data)
        self._outbox.put_nowait(data)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def interim(self) -> Transcript:
        pushed = self._pushed / self._stt.bytes_per_second
        if self._task is not None:
            await self._until(lambda: self._ended or self._error is not None
                              or self._heard_until + _EPSILON >= pushed, self._stt.interim_wait)
        return self._transcript()

    async def final(self) -> Transcript:
        if self._task is None:
            return self._transcript()
        if not self._finishing:
            self._finishing = True
            self._outbox.put_nowait(_FINALIZE)
        while not (self._finalized or self._ended or self._error is not None):
            timeout = None
            if self._finalize_at is not None:
                quiet_since = max(self._finalize_at, self._last_message)
                timeout = quiet_since + self._stt.finalize_wait - time.monotonic()
                if timeout <= 0:
                    break
            await self._next_change(timeout)
        return self._transcript()

    async def aclose(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._finishing = self._closing = True
        self._outbox.put_nowait(_CLOSE)
        done, _ = await asyncio.wait({task}, timeout=CLOSE_WAIT)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=0.5)
            if not done:
                _LINGERING.spawn(task)

    # The connection ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                socket = await self._stt.open(stack)
                reader = asyncio.create_task(self._read(socket))
                try:
                    await self._write(socket)
                    await reader
                finally:
                    reader.cancel()
        except Exception as exc:
            self._fail(exc)
        finally:
            self._ended = True
            self._notify()

    async def _write(self, socket: Any) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._outbox.get(), self._stt.keepalive_interval)
            except TimeoutError:
                await socket.send_keep_alive()
                continue
            if item is _STOP:
                return
            if isinstance(item, bytes):
                await socket.send_media(item)
            elif item == _FINALIZE:
                await socket.send_finalize()
                self._finalize_at = time.monotonic()
                self._notify()
            elif item == _CLOSE:
                await socket.send_close_stream()
                return

    async def _read(self, socket: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                message = await socket.recv()
                self._last_message = time.monotonic()
                self._take(message)
                self._notify()
        except ConnectionClosed as exc:
            if not self._closing:
                self._fail(exc)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._outbox.put_nowait(_STOP)

    def _take(self, message: Any) -> None:
        kind = getattr(message, "type", None)
        if kind == "Error":
            detail = getattr(message, "description", None) or getattr(message, "message", "")
            self._fail(ProviderError(NAME, f"error message: {detail}", retryable=True))
        if kind != "Results":
            return  # Metadata, SpeechStarted, UtteranceEnd
        channel = getattr(message, "channel", None)
        alternatives = getattr(channel, "alternatives", None) or []
        best = alternatives[0] if alternatives else None
        start = float(getattr(message, "start", None) or 0.0)
        end = start + float(getattr(message, "duration", None) or 0.0)
        segment = _Segment(str(getattr(best, "transcript", None) or "").strip(),
                           float(getattr(best, "confidence", None) or 0.0), end)
        languages = getattr(best, "languages", None)
        if languages:
            self._language = str(languages[0])
        self._heard_until = max(self._heard_until, end)
        if getattr(message, "is_final", False):
            self._finals.append(segment)
            if self._interim is not None and self._interim.end <= end + _EPSILON:
                self._interim = None
            if getattr(message, "from_finalize", False):
                self._finalized = True
        else:
            self._interim = segment

    # State -----------------------------------------------------------------------

    def _transcript(self) -> Transcript:
        if self._error is not None:
            raise self._error
        parts = [s for s in [*self._finals, self._interim] if s is not None and s.text]
        if not parts:
            return Transcript("", 1.0, self._language)
        weights = [len(s.text.split()) for s in parts]
        confidence = sum(w * s.confidence for w, s in zip(weights, parts, strict=True))
        return Transcript(" ".join(s.text for s in parts), confidence / sum(weights),
                          self._language)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = _error(exc)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _next_change(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _until(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done() and (left := deadline - time.monotonic()) > 0:
            await self._next_change(left)


def _error(exc: BaseException) -> ProviderError:
    """The SDK's (and websockets') exceptions as ProviderError, saying whether a retry can
    help. Messages never carry the key (nor the SDK's request headers)."""
    if isinstance(exc, ProviderError):
        return exc
    from deepgram.core.api_error import ApiError
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    if isinstance(exc, ApiError):
        status = exc.status_code or 0
        if status in (401, 403):
            return ProviderError(NAME, f"the API key was rejected (HTTP {status})",
                                 retryable=False)
        retryable = status in (408, 429) or status >= 500
        return ProviderError(NAME, f"the listen websocket was refused (HTTP {status})",
                             retryable=retryable)
    if isinstance(exc, ConnectionClosed):
        close = exc.rcvd
        how = "no close frame" if close is None else \
            f"code {close.code}" + (f", {close.reason}" if close.reason else "")
        return ProviderError(NAME, f"the connection was lost mid-utterance ({how})",
                             retryable=True)
    if isinstance(exc, TimeoutError):
        return ProviderError(NAME, "timed out", retryable=True)
    if isinstance(exc, OSError | InvalidHandshake):
        return ProviderError(NAME, f"cannot connect: {exc}", retryable=True)
    return ProviderError(NAME, f"{type(exc).__name__}: {exc}", retryable=True)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _roots(base_url: str) -> tuple[str, str]:
    """The HTTP and websocket roots of a server given by either."""
    root = base_url.rstrip("/")
    scheme, sep, rest = root.partition("://")
    if not sep or scheme not in ("http", "https", "ws", "wss"):
        raise ProviderError(NAME, f"base_url must start with http(s):// or ws(s)://: "
                            f"{base_url!r}", retryable=False)
    secure = scheme in ("https", "wss")
    return (f"{'https' if secure else 'http'}://{rest}", f"{'wss' if secure else 'ws'}://{rest}")
