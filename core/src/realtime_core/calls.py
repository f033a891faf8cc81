"""Core's side of every call into a provider: guards, hooks, timeouts, error mapping, state changes.

When a provider subclass of :class:`~realtime_core.Realtime` is defined, core wraps its ``connect``,
``simple_audio_response``, ``simple_response``, ``say``, ``begin_user_turn``, ``end_user_turn`` and
``close`` (see :func:`wrap`), so every provider gets the same behaviour from :class:`ProviderCalls`:
capability and state checks before anything is sent, the method hooks, resampling of input audio,
buffering while reconnecting, a timeout on connect and close, typed errors, and exactly one connected and
one final disconnected event per connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .audio import PcmData, Resampler
from .capabilities import Capabilities
from .emitter import Emitter
from .errors import (
    ConfigurationError,
    ConnectionFailedError,
    InvalidAudioError,
    RealtimeError,
    SessionClosedError,
    UnsupportedCapability,
)
from .lifecycle import Lifecycle, SessionState
from .responses import InterruptInfo

if TYPE_CHECKING:
    from .dispatch import EventDispatcher
    from .reconnect import ReconnectRunner
    from .session import Realtime
    from .tasks import TaskSet
    from .video import VideoPump

__all__ = ["ProviderCalls", "fresh_call_context", "wrap"]

log = logging.getLogger("realtime_core.session")

# (id(session), method) pairs whose core wrapper is running in this context: lets a subclass of a
# provider override a method and call super() without core's logic running twice.
_ACTIVE: contextvars.ContextVar[frozenset[tuple[int, str]]] = contextvars.ContextVar("realtime_active", default=frozenset())

Impl = Callable[..., Awaitable[Any]]


def fresh_call_context() -> object:
    """Run in a new task's context: calls made from that task get core's guards again."""
    return _ACTIVE.set(frozenset())


def wrap(name: str, guard: Callable[..., Awaitable[Any]], *, nested: bool = True) -> Callable[[Impl], Impl]:
    """Wrap a provider's implementation of method ``name`` with ``guard(calls, impl, *args)``.

    :param nested: a base class below has its own wrapped ``name`` that this one may reach through
        ``super()``: mark the call as guarded so that one does not guard it again. (False skips the
        marking, which matters on the audio path.)
    """

    def decorator(impl: Impl) -> Impl:
        @functools.wraps(impl)
        async def wrapper(self: Realtime, *args: Any, **kwargs: Any) -> Any:
            key = (id(self), name)
            active = _ACTIVE.get()
            if key in active:  # a subclass calling super() (or core replaying audio): the guard already ran
                return await impl(self, *args, **kwargs)
            if not nested:
                return await guard(self._calls, impl, *args, **kwargs)  # pyright: ignore[reportPrivateUsage]
            token = _ACTIVE.set(active | {key})
            try:
                return await guard(self._calls, impl, *args, **kwargs)  # pyright: ignore[reportPrivateUsage]
            finally:
                _ACTIVE.reset(token)

        wrapper.__realtime_wrapped__ = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


class ProviderCalls:
    """See the module docstring. One per session, built by :class:`~realtime_core.Realtime`."""

    def __init__(
        self,
        session: Realtime,
        *,
        lifecycle: Lifecycle,
        emitter: Emitter,
        dispatcher: EventDispatcher,
        tasks: TaskSet,
        reconnect: ReconnectRunner,
        video: VideoPump,
        on_interrupt: Callable[[InterruptInfo], Awaitable[None]],
        raw_close: Callable[[], Awaitable[None]] | None,
        set_capabilities: Callable[[Capabilities], None],
        connect_timeout: float,
        close_timeout: float,
    ) -> None:
        self._session = session
        self._provider = emitter.provider
        self._lifecycle = lifecycle
        self._emitter = emitter
        self._dispatcher = dispatcher
        self._hooks = dispatcher.hooks
        self._tasks = tasks
        self._reconnect = reconnect
        self._video = video
        self._on_interrupt = on_interrupt
        self._raw_close = raw_close
        self._set_capabilities = set_capabilities
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._resampler: Resampler | None = None
        self._connect_task: asyncio.Task[Any] | None = None
        self._closed_while_connecting = False

    @property
    def _caps(self) -> Capabilities:
        return self._session.capabilities

    def require(self, capability: str, operation: str) -> None:
        if not self._caps.supports(capability):
            raise UnsupportedCapability(
                capability,
                f"{self._provider} does not support {operation} with this configuration "
                f"(capabilities.{capability} is off)",
                provider=self._provider,
            )

    # ================================================================== connect
    async def connect(self, impl: Impl) -> None:
        lifecycle = self._lifecycle
        state = lifecycle.state
        if lifecycle.is_over:
            raise SessionClosedError(
                f"this {self._provider} session is {state.value}; create a new session", provider=self._provider
            )
        if state is SessionState.RECONNECTING and asyncio.current_task() is self._reconnect.task:
            # a provider's _reconnect() may simply call connect() again to open the new connection
            async with asyncio.timeout(self._connect_timeout):
                await impl(self._session)
            return
        if state is SessionState.CONNECTED or state is SessionState.RECONNECTING:
            return
        if state is SessionState.CONNECTING:
            await self.wait_connected("connect")
            return
        if len(self._session.tools) and not self._caps.tools:
            raise UnsupportedCapability(
                "tools",
                f"{self._provider} does not support tools with this configuration; remove tools=...",
                provider=self._provider,
            )
        lifecycle.move(SessionState.CONNECTING)
        lifecycle.connected_announced = lifecycle.disconnected_announced = False
        if self._dispatcher.has_handlers:
            self._dispatcher.start_handlers()
        self._hooks.call_method_hook("realtime_connect", session=self._session)
        self._connect_task = asyncio.current_task()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await impl(self._session)
        except asyncio.CancelledError:
            if not self._closed_while_connecting:
                await self._abort_connect()
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise SessionClosedError("the session was closed while connecting", provider=self._provider) from None
        except BaseException as exc:
            if self._closed_while_connecting:
                raise SessionClosedError("the session was closed while connecting", provider=self._provider) from exc
            await self._abort_connect()
            raise self._connect_error(exc) from exc
        finally:
            self._connect_task = None
        if self._closed_while_connecting:
            raise SessionClosedError("the session was closed while connecting", provider=self._provider)
        if not lifecycle.connected_announced:
            self.announce_connected(None, None)

    def _connect_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, RealtimeError):
            return exc
        if isinstance(exc, TimeoutError):
            return ConnectionFailedError(
                f"timed out after {self._connect_timeout:g}s connecting to {self._provider}", provider=self._provider
            )
        if isinstance(exc, OSError):
            return ConnectionFailedError(f"could not connect to {self._provider}: {exc}", provider=self._provider)
        return exc

    async def _abort_connect(self) -> None:
        await self._release()
        await self._tasks.cancel_all()
        lifecycle = self._lifecycle
        if lifecycle.connected_announced and not lifecycle.disconnected_announced:
            lifecycle.disconnected_announced = True
            self._emitter.disconnected("connect failed", was_clean=False)
        lifecycle.connected_announced = False
        self._dispatcher.last_connected = None
        if lifecycle.state is SessionState.CONNECTING:
            lifecycle.move(SessionState.NEW)

    async def _release(self) -> None:
        """Let the provider free its transport (its close() must tolerate a dead or half-open one)."""
        if self._raw_close is None:
            return
        try:
            async with asyncio.timeout(self._close_timeout):
                await self._raw_close()
        except Exception:
            log.debug("%s: provider close() raised while releasing", self._provider, exc_info=True)

    def announce_connected(self, session_config: dict[str, Any] | None, capabilities: Capabilities | None) -> None:
        """The provider's connected event: once per ``connect()``, moves the state to connected."""
        lifecycle = self._lifecycle
        if lifecycle.connected_announced or self._dispatcher.ended or self._closed_while_connecting:
            return
        if capabilities is not None:
            self._set_capabilities(capabilities)
        lifecycle.connected_announced = True
        lifecycle.disconnected_announced = False
        if lifecycle.state is SessionState.CONNECTING:
            lifecycle.move(SessionState.CONNECTED)
        self._emitter.connected(session_config)

    def announce_clean_disconnect(self, reason: str) -> None:
        lifecycle = self._lifecycle
        if lifecycle.disconnected_announced or not lifecycle.connected_announced:
            return
        lifecycle.disconnected_announced = True
        self._emitter.disconnected(reason, was_clean=True)

    async def wait_connected(self, operation: str) -> None:
        """Return once connected; wait out a connect or reconnect; else raise :class:`SessionClosedError`."""
        lifecycle = self._lifecycle
        if lifecycle.state is SessionState.CONNECTED:
            return
        policy = self._reconnect.policy
        budget = self._connect_timeout * max(1, policy.max_attempts) + policy.max_delay * policy.max_attempts
        if await lifecycle.wait_connected(budget):
            return
        state = lifecycle.state
        raise SessionClosedError(
            f"cannot {operation}: the session is {state.value}" + ("; call connect() first" if state is SessionState.NEW else ""),
            provider=self._provider,
        )

    # ================================================================== input
    async def audio(self, impl: Impl, pcm: PcmData, *extra: Any, participant: Any = None) -> None:
        if extra:
            raise ConfigurationError(
                "simple_audio_response() takes the audio and, by keyword only, participant=...; "
                f"got {len(extra)} more positional argument(s). A sample rate belongs in the PcmData: "
                "PcmData.from_bytes(data, 48000)"
            )
        if type(pcm) is not PcmData and not isinstance(pcm, PcmData):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidAudioError(
                f"simple_audio_response takes PcmData, got {type(pcm).__name__}; wrap raw bytes with "
                "PcmData.from_bytes(data, sample_rate)"
            )
        if pcm.samples.dtype.char != "h":  # PcmData guarantees int16, unless someone swapped the array
            raise InvalidAudioError(f"PcmData samples must be int16, got {pcm.samples.dtype}")
        lifecycle = self._lifecycle
        state = lifecycle.state
        if state is not SessionState.CONNECTED and state is not SessionState.RECONNECTING:
            raise SessionClosedError(
                f"cannot send audio: the session is {state.value}" + ("; call connect() first" if state is SessionState.NEW else ""),
                provider=self._provider,
            )
        if not pcm.frames:
            return
        hooks = self._hooks
        if hooks.has_method_hook("realtime_audio_input"):
            replaced = hooks.call_method_hook(
                "realtime_audio_input", first=True, session=self._session, pcm=pcm, participant=participant
            )
            if isinstance(replaced, PcmData):
                pcm = replaced
        self._emitter.audio_input(pcm, participant)
        caps = self._caps
        if pcm.sample_rate != caps.input_sample_rate or pcm.channels != 1:
            resampler = self._resampler
            if resampler is None or resampler.sample_rate != caps.input_sample_rate:
                resampler = self._resampler = Resampler(caps.input_sample_rate, 1)
            pcm = resampler.process(pcm)
            if not pcm.frames:
                return
        if state is SessionState.RECONNECTING:
            self._reconnect.gap.add(pcm, participant)
            return
        try:
            await impl(self._session, pcm, participant=participant)
            self._reconnect.sent(pcm, participant)
        except ConnectionFailedError as exc:
            # the socket died under us before the receive loop noticed: a lost connection, and this chunk
            # goes into the gap buffer instead of being lost
            self._reconnect.connection_lost(exc, reason=exc.message)
            if lifecycle.state is not SessionState.RECONNECTING:
                raise
            self._reconnect.gap.add(pcm, participant)

    async def replay_audio(self, pcm: PcmData, participant: Any) -> None:
        """Send a buffered chunk straight to the provider (already resampled; no hooks, no mirror event)."""
        token = _ACTIVE.set(_ACTIVE.get() | {(id(self._session), "simple_audio_response")})
        try:
            await self._session.simple_audio_response(pcm, participant=participant)
        finally:
            _ACTIVE.reset(token)

    async def text(self, impl: Impl, text: str, *args: Any, **kwargs: Any) -> None:
        self.require("text_input", "simple_response(text)")
        text = _check_text(text)
        await self.wait_connected("send text")
        replaced = self._hooks.call_method_hook("realtime_text_input", first=True, session=self._session, text=text)
        if isinstance(replaced, str):
            text = replaced
        self._emitter.text_input(text)
        self._emitter.tracker.mark_turn_end()
        await self._send_or_retry("send text", impl, text, *args, **kwargs)

    async def say(self, impl: Impl, text: str, *args: Any, **kwargs: Any) -> None:
        self.require("say", "say(text)")
        text = _check_text(text)
        await self.wait_connected("say text")
        replaced = self._hooks.call_method_hook("realtime_say", first=True, session=self._session, text=text)
        if isinstance(replaced, str):
            text = replaced
        self._emitter.tracker.mark_turn_end()
        await self._send_or_retry("say text", impl, text, *args, **kwargs)

    async def begin_turn(self, impl: Impl) -> None:
        self.require("manual_turns", "begin_user_turn()")
        await self.wait_connected("begin a user turn")
        await impl(self._session)

    async def end_turn(self, impl: Impl) -> None:
        self.require("manual_turns", "end_user_turn()")
        await self.wait_connected("end a user turn")
        await self._flush_input()
        self._emitter.tracker.mark_turn_end()
        await impl(self._session)

    async def _flush_input(self) -> None:
        """Send what the input resampler's filter still holds (~15 ms): the end of the user's turn is
        all of it, not all but the filter's delay."""
        resampler = self._resampler
        if resampler is None:
            return
        tail = resampler.flush()
        if tail.frames:
            await self.replay_audio(tail, None)

    async def _send_or_retry(self, operation: str, impl: Impl, *args: Any, **kwargs: Any) -> None:
        """Run a send; if the connection turns out to be dead, let core reconnect and try once more."""
        try:
            await impl(self._session, *args, **kwargs)
        except ConnectionFailedError as exc:
            self._reconnect.connection_lost(exc, reason=exc.message)
            if self._lifecycle.state is not SessionState.RECONNECTING:
                raise
            await self.wait_connected(operation)
            await impl(self._session, *args, **kwargs)

    # ================================================================== interruption
    async def interrupt(self) -> None:
        self.require("interruption", "interrupt()")
        info = self._begin_interrupt("local")
        if self._lifecycle.state is SessionState.CONNECTED:
            try:
                await self._on_interrupt(info)
            except RealtimeError as exc:
                self._emitter.error(exc, context="interrupt")

    def barge_in(self) -> InterruptInfo:
        info = self._begin_interrupt("server")
        if self._lifecycle.state is SessionState.CONNECTED:
            self._tasks.spawn(self._tell_provider(info), name="realtime-barge-in")
        return info

    async def _tell_provider(self, info: InterruptInfo) -> None:
        try:
            await self._on_interrupt(info)
        except RealtimeError as exc:
            self._emitter.error(exc, context="interrupt")

    def _begin_interrupt(self, source: str) -> InterruptInfo:
        info = self._emitter.interrupt(source)
        self._hooks.call_method_hook("realtime_interrupt", session=self._session, source=source, response_id=info.response_id)
        return info

    # ================================================================== close
    async def close(self, impl: Impl) -> None:
        lifecycle = self._lifecycle
        state = lifecycle.state
        if state is SessionState.CLOSED:
            return
        if state is SessionState.CLOSING:
            await lifecycle.wait_closed()
            return
        connect_task = self._connect_task
        if state is SessionState.CONNECTING and connect_task is not None and connect_task is not asyncio.current_task():
            self._closed_while_connecting = True
            connect_task.cancel()
            await asyncio.wait({connect_task}, timeout=self._close_timeout)
        if state is SessionState.CONNECTED:
            # the provider gets every frame sent before close(), including the resampler's last ~15 ms
            try:
                async with asyncio.timeout(self._close_timeout):
                    await self._flush_input()
            except Exception as exc:
                log.debug("%s: the input resampler's tail was not sent before close: %r", self._provider, exc)
        lifecycle.move(SessionState.CLOSING)
        self._hooks.call_method_hook("realtime_close", session=self._session)
        try:
            await self._video.stop()
            await self._reconnect.cancel()
            if state is not SessionState.NEW and state is not SessionState.FAILED:  # FAILED: already released
                try:
                    async with asyncio.timeout(self._close_timeout):
                        await impl(self._session)
                except Exception as exc:
                    log.warning("%s close() did not finish cleanly: %r", self._provider, exc)
            await self._tasks.cancel_all()
            self._emitter.end_active_response()
            if lifecycle.connected_announced and not lifecycle.disconnected_announced:
                lifecycle.disconnected_announced = True
                self._emitter.disconnected("closed", was_clean=True)
            self._dispatcher.end()
            await self._dispatcher.drain_handlers(self._close_timeout)
        finally:
            lifecycle.move(SessionState.CLOSED)


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ConfigurationError("text must not be empty")
    return text

