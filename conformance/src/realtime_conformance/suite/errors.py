"""Errors and connection loss: server errors, typed errors, wrong keys, hostile frames, secrets, dropped
connections, reconnection truth, renewal, audio across a reconnect (contract sections 2.4, 8 and 10)."""

from __future__ import annotations

import logging
import uuid

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    PcmData,
    ProtocolError,
    ProviderError,
    RealtimeDisconnectedEvent,
    RealtimeError,
    RealtimeErrorEvent,
    RealtimeReconnectedEvent,
    ReconnectPolicy,
    SessionState,
)
from realtime_core.emulator import EmulatorServer, Fault
from realtime_core.emulator.info import credentials_in

from ..clauses import clause, expect, not_applicable
from ..fixtures import HarnessFactory
from ..harness import FRAME_MS, SPEECH_RATE, Harness
from .base import SuiteBase, reply_turn, scenario

WRONG_KEY = "wrong-conformance-key-" + uuid.uuid4().hex


def _credential_options(emulator: EmulatorServer) -> dict[str, str]:
    """The session options that carry credentials, with the values the emulator accepts."""
    return credentials_in(emulator.session_options())


class _LogCapture(logging.Handler):
    """Every log record of every logger, at DEBUG, for the duration of a ``with`` block."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._saved: list[tuple[logging.Logger, int, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> _LogCapture:
        root = logging.getLogger()
        loggers = [root] + [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
        for logger in loggers:
            attach = logger is root or not logger.propagate
            self._saved.append((logger, logger.level, attach))
            if logger.level > logging.DEBUG or logger is root:
                logger.setLevel(logging.DEBUG)
            if attach:
                logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, level, attached in self._saved:
            logger.setLevel(level)
            if attached:
                logger.removeHandler(self)

    def texts(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        out: list[str] = []
        for record in self.records:
            try:
                out.append(formatter.format(record))
            except Exception:  # a record whose message cannot be built: check its parts
                out.append(f"{record.name} {record.msg!r} {record.args!r}")
        return out


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class ErrorTests(SuiteBase):
    @clause("server_error_event", promise="8.1", offline_only=True)
    async def test_server_error_event(self, harness: HarnessFactory) -> None:
        """A provider error during a session is a RealtimeErrorEvent with a typed error and a context; the
        session lives on."""
        faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
        h = await harness(scenario(reply_turn(), reply_turn(), faults=faults))
        await self.take_turn(h)
        event = await h.wait_for(RealtimeErrorEvent)
        expect(isinstance(event.error, RealtimeError), "a typed error (a RealtimeError)", type(event.error).__name__)
        expect(event.context, "a context saying where it happened", repr(event.context))
        expect(h.session.connected, "the session still connected", h.session.state)
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("typed_errors", promise="8.2", offline_only=True)
    async def test_typed_errors(self, harness: HarnessFactory) -> None:
        """The provider's transient server error is a ProviderError with recoverable=True (contract table 8.2)."""
        faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
        h = await harness(scenario(reply_turn(), faults=faults))
        await self.take_turn(h)
        event = await h.wait_for(RealtimeErrorEvent)
        error = event.error
        expect(isinstance(error, ProviderError) and not isinstance(error, ConfigurationError),
               "a ProviderError for server_error", f"{type(error).__name__}: {error}")  # fmt: skip
        expect(getattr(error, "recoverable", False), "recoverable=True", "recoverable=False")

    @clause("wrong_key", promise="2.4", offline_only=True)
    async def test_wrong_key(self, harness: HarnessFactory) -> None:
        """A wrong key makes connect() raise AuthenticationError with recoverable=False (not a bare exception,
        not a retryable connection error), and the error does not repeat the key."""
        probe = await harness(connect=False)
        credentials = _credential_options(probe.emulator_or_skip())
        if not credentials:
            not_applicable("the emulator takes no credentials")
        h = await harness(connect=False, **dict.fromkeys(credentials, WRONG_KEY))
        try:
            await h.connect()
        except Exception as exc:
            error: Exception = exc
        else:
            expect(False, "connect() with a wrong key to raise AuthenticationError", "it connected")
            return
        expect(isinstance(error, AuthenticationError), "AuthenticationError", f"{type(error).__name__}: {error}")
        expect(getattr(error, "recoverable", True) is False, "recoverable=False", "recoverable=True")
        leaked = [type(e).__name__ for e in _chain(error) if WRONG_KEY in f"{e} {e!r}"]
        expect(not leaked, "the error not to repeat the key", f"the key is in {leaked}")
        expect(h.session.state is not SessionState.CONNECTED, "not connected", h.session.state)

    @clause("malformed_frame_survived", promise="8.3", offline_only=True)
    async def test_malformed_frame_survived(self, harness: HarnessFactory) -> None:
        """Hostile frames from the provider (cut-off JSON, deeply nested JSON, wrong field types) are error
        events, never a dead receive loop: the session stays connected and keeps working."""
        variants = ("truncated", "deep", "wrong_types")
        faults = [Fault(kind="malformed", at_turn=i, phase="before_reply", variant=v) for i, v in enumerate(variants)]
        h = await harness(scenario(*[reply_turn() for _ in range(len(variants) + 1)], faults=faults))
        for i, variant in enumerate(variants):
            mark = h.mark()
            await self.take_turn(h)
            if variant != "wrong_types":  # a well-formed frame with wrong types may also be ignored
                event = await h.wait_for(RealtimeErrorEvent, after=mark)
                expect(isinstance(event.error, ProtocolError), f"a ProtocolError for the {variant} frame",
                       f"{type(event.error).__name__}: {event.error}")  # fmt: skip
            await self.wait_reply(h, after=mark)
            expect(h.session.connected, f"the session connected after the {variant} frame (turn {i})", h.session.state)
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("no_secrets", promise="8.4", offline_only=True)
    async def test_no_secrets(self, harness: HarnessFactory) -> None:
        """The key appears in no event, no repr, no error and no log record at any level (DEBUG included, the
        plugin's own loggers included), for a whole session with an error and for a wrong key."""
        faults = [Fault(kind="error", at_turn=0, phase="before_reply", code="server_error", message="emulated failure")]
        with _LogCapture() as logs:
            h = await harness(scenario(reply_turn(), reply_turn(), faults=faults), connect=False)
            emulator = h.emulator_or_skip()
            secrets = {v for v in [*_credential_options(emulator).values(), *emulator.credentials().values()] if len(v) >= 8}
            await h.connect()
            await self.take_turn(h)
            await h.wait_for(RealtimeErrorEvent)
            mark = h.mark()
            await self.take_turn(h)
            await self.wait_reply(h, after=mark)
            texts = [repr(h.session), str(h.session)]
            await h.close()
            errors: list[BaseException] = []
            credentials = _credential_options(emulator)
            if credentials:
                secrets.add(WRONG_KEY)
                wrong = await harness(connect=False, **dict.fromkeys(credentials, WRONG_KEY))
                try:
                    await wrong.connect()
                except Exception as exc:
                    errors += _chain(exc)
                texts += [repr(wrong.session), *[repr(e) for e in wrong.events]]
                await wrong.close()
        if not secrets:
            not_applicable("the emulator takes no credentials")
        texts += [repr(e) for e in h.events]
        errors += [e.error for e in h.of(RealtimeErrorEvent) if isinstance(e.error, BaseException)]
        texts += [f"{e} {e!r}" for e in errors]
        texts += logs.texts()
        found = [text for text in texts if any(secret in text for secret in secrets)]
        expect(not found, "no secret in events, reprs, errors or logs",
               f"{len(found)} place(s), e.g. {_mask(found[0], secrets) if found else ''}")  # fmt: skip

    @clause("dropped_connection", promise="10.1", offline_only=True)
    async def test_dropped_connection(self, harness: HarnessFactory) -> None:
        """A dropped connection gives exactly one disconnected event with was_clean=False; with reconnection
        declared a reconnected event follows and the session works, without it the session ends
        (will_reconnect=False) and nothing more is sent."""
        faults = [Fault(kind="close", at_turn=1, phase="mid_reply")]
        turns = [reply_turn(), reply_turn(audio_ms=2000, chunk_interval_ms=20), reply_turn("Back again.")]
        h = await harness(scenario(*turns, faults=faults))
        await self.take_turn(h)
        await self.wait_reply(h)
        try:
            await self.take_turn(h)
        except RealtimeError:
            if h.caps.reconnection:
                raise
            # without reconnection, the audio the turn sends after the drop is refused: that is right
        dropped = await h.wait_for(RealtimeDisconnectedEvent)
        expect(dropped.was_clean is False, "was_clean=False for a dropped connection", "was_clean=True")
        if not h.caps.reconnection:
            expect(dropped.will_reconnect is False, "will_reconnect=False (reconnection is not declared)", "True")
            await h.wait_ended()
            expect(h.session.state in (SessionState.FAILED, SessionState.CLOSED), "the session failed", h.session.state)
            return
        expect(dropped.will_reconnect is True, "will_reconnect=True (reconnection is declared)", "False")
        await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        expect(h.session.connected, "connected after the reconnected event", h.session.state)
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
        count = len(h.of(RealtimeDisconnectedEvent))
        expect(count == 1, "one disconnected event", f"{count}")

    async def _reconnected(self, h: Harness) -> RealtimeReconnectedEvent:
        await self.take_turn(h)
        await self.wait_reply(h)
        await self.take_turn(h)
        await h.wait_for(RealtimeDisconnectedEvent)
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        await h.barrier()  # whatever the reconnect sent has arrived
        return back

    @clause("state_restored_truthful", promise="10.2", requires=("reconnection",), observes=("state_restored",),
            offline_only=True)  # fmt: skip
    async def test_state_restored_truthful(self, harness: HarnessFactory) -> None:
        """After a reconnection state_restored=True only if the provider has the conversation again (and it
        must be True when session_resumption is declared)."""
        faults = [Fault(kind="close", at_turn=1, phase="mid_reply")]
        turns = [reply_turn(), reply_turn(audio_ms=2000, chunk_interval_ms=20), reply_turn("Back again.")]
        h = await harness(scenario(*turns, faults=faults))
        back = await self._reconnected(h)
        restored = [f for f in h.facts("state_restored") if f.connection > 1]
        if back.state_restored:
            expect(restored, "the provider to restore the conversation (state_restored=True)", "nothing restored")
        else:
            expect(not restored, "nothing restored (state_restored=False)", f"the provider restored it: {restored[0].data}")
        if h.caps.session_resumption:
            expect(back.state_restored, "state_restored=True (session_resumption is declared)", "False")

    @clause("session_limit_renewal", promise="10.2", requires=("reconnection",), offline_only=True)
    async def test_session_limit_renewal(self, harness: HarnessFactory) -> None:
        """When the provider announces the end of the session (expiry, goAway) the session is renewed and keeps
        working; with session_resumption declared the renewal restores the conversation."""
        kind = self.session_limit_fault()
        h = await harness(scenario(reply_turn(), reply_turn("Still here."), faults=[Fault(kind=kind, at_turn=0, phase="after_reply")]))  # type: ignore[arg-type]
        await self.take_turn(h)
        await self.wait_reply(h)
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        expect(h.session.connected, "connected after the renewal", h.session.state)
        if h.caps.session_resumption:
            expect(back.state_restored, "state_restored=True (session_resumption is declared)", "False")
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)

    @clause("audio_kept_across_reconnect", promise="10.3", requires=("reconnection",), offline_only=True)
    async def test_audio_kept_across_reconnect(self, harness: HarnessFactory) -> None:
        """Audio sent while reconnecting is replayed after the reconnection or reported lost, never silently
        dropped; what is reported replayed reached the new connection."""
        faults = [Fault(kind="close", at_turn=0, phase="after_reply")]
        h = await harness(
            scenario(reply_turn(), faults=faults),
            reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.5, jitter=0.0),
        )
        await self.take_turn(h)
        await h.wait_for(RealtimeDisconnectedEvent)
        gap_ms = 200.0
        await h.send_audio(PcmData.silence(gap_ms, SPEECH_RATE))
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        kept = back.replayed_audio_ms + back.lost_audio_ms
        expect(kept >= gap_ms - FRAME_MS, f"the {gap_ms:g} ms sent during the gap replayed or reported lost",
               f"replayed {back.replayed_audio_ms:g} ms, reported lost {back.lost_audio_ms:g} ms")  # fmt: skip
        emulator = h.emulator_or_skip()
        if back.replayed_audio_ms and emulator.can_observe("audio_in"):
            wanted = back.replayed_audio_ms - FRAME_MS
            try:
                await h.until(lambda: _after_first(h) >= wanted, f"{wanted:g} ms replayed on the new connection")
            except TimeoutError:
                expect(False, f"the {back.replayed_audio_ms:g} ms reported replayed on the new connection",
                       f"{_after_first(h):.1f} ms arrived there")  # fmt: skip

    @clause("old_connection_closed", promise="10.4", requires=("reconnection",), observes=("client_closed",),
            offline_only=True)  # fmt: skip
    async def test_old_connection_closed(self, harness: HarnessFactory) -> None:
        """A renewal closes the connection it replaces: the client closes the old socket itself, with no
        spurious unclean disconnect and no second reconnection."""
        kind = self.session_limit_fault()
        h = await harness(scenario(reply_turn(), reply_turn("Still here."), faults=[Fault(kind=kind, at_turn=0, phase="after_reply")]))  # type: ignore[arg-type]
        emulator = h.emulator_or_skip()
        await self.take_turn(h)
        await self.wait_reply(h)
        back = await h.wait_for(RealtimeReconnectedEvent, timeout=h.timeout * 2)
        await h.until(lambda: 1 not in emulator.open_connections, "the replaced connection to close")
        if kind == "go_away":  # after an announcement the old socket is the client's to close; an expiry
            # closes it from the server's side, and what is checked then is that nothing else goes wrong
            closed = h.facts("client_closed", connection=1)
            expect(closed, "the client to close the replaced connection itself", "the provider had to close it")
        mark = h.mark()
        await self.take_turn(h)
        await self.wait_reply(h, after=mark)
        await h.barrier()
        unclean = h.of(RealtimeDisconnectedEvent, lambda e: not e.was_clean, after=h.index_of(back))
        expect(not unclean, "no unclean disconnect after the renewal", f"{len(unclean)}: {[e.reason for e in unclean]}")
        count = len(h.of(RealtimeReconnectedEvent))
        expect(count == 1, "one reconnection for one renewal", f"{count}")


def _after_first(h: Harness) -> float:
    emulator = h.emulator_or_skip()
    return sum(t.ms for n, t in emulator.audio_in.items() if n > 1)


def _mask(text: str, secrets: set[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, f"<the key {secret[:3]}...>")
    return text[:300]

