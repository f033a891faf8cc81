"""One source for events and hooks: each event class names its hook, and the hookspecs, the hook table,
the method hooks and the exports match it one to one."""

from __future__ import annotations

import inspect

import realtime_core
from realtime_core import Realtime, events, hookspecs
from realtime_core.provider import PROTECTED_API, SessionCore


def _hookspec_names() -> set[str]:
    return {
        name
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")
    }


def _event_classes() -> set[type[events.RealtimeEvent]]:
    return {
        obj
        for obj in vars(events).values()
        if inspect.isclass(obj) and issubclass(obj, events.RealtimeEvent) and obj is not events.RealtimeEvent
    }


def test_every_event_class_is_listed_once_and_has_its_own_hook() -> None:
    classes = _event_classes()
    assert set(events.EVENT_TYPES) == classes
    assert len(events.EVENT_TYPES) == len(classes)
    hooks = [cls.hook for cls in events.EVENT_TYPES]
    assert len(set(hooks)) == len(hooks), "two event classes share a hook"
    assert events.RealtimeEvent.hook not in hooks
    assert {cls: cls.hook for cls in events.EVENT_TYPES} == events.HOOK_NAMES


def test_hookspecs_are_exactly_the_event_hooks_the_method_hooks_and_registration() -> None:
    specs = _hookspec_names()
    event_hooks = {cls.hook for cls in events.EVENT_TYPES} | {events.RealtimeEvent.hook}
    assert specs == event_hooks | set(hookspecs.METHOD_HOOKS) | {"realtime_register_providers"}
    assert not event_hooks & set(hookspecs.METHOD_HOOKS)


def test_event_hooks_take_session_and_event_of_their_class() -> None:
    for cls in events.EVENT_TYPES:
        spec = getattr(hookspecs, cls.hook)
        params = inspect.signature(spec).parameters
        assert list(params) == ["session", "event"], cls.hook
        assert params["event"].annotation == cls.__name__, f"{cls.hook} documents {params['event'].annotation}"


def test_every_event_class_is_exported() -> None:
    for cls in (events.RealtimeEvent, *events.EVENT_TYPES):
        assert cls.__name__ in realtime_core.__all__, cls.__name__
        assert cls.__name__ in events.__all__, cls.__name__
        assert getattr(realtime_core, cls.__name__) is cls


def test_method_hooks_mirror_session_methods() -> None:
    mirrored = {
        "realtime_connect": "connect",
        "realtime_audio_input": "simple_audio_response",
        "realtime_text_input": "simple_response",
        "realtime_say": "say",
        "realtime_video_frame": "watch_video_track",
        "realtime_interrupt": "interrupt",
        "realtime_close": "close",
    }
    assert set(mirrored) == set(hookspecs.METHOD_HOOKS)
    for method in mirrored.values():
        assert callable(getattr(Realtime, method))


def test_the_protected_surface_exists_and_every_seed_emitter_is_on_session_core() -> None:
    for name in PROTECTED_API:
        if name == "_core":
            continue
        assert hasattr(Realtime, name), name
    seed = {n for n in PROTECTED_API if n.startswith("_emit_")}
    assert len(seed) == 13
    for name in seed:
        public = name[1:]
        assert callable(getattr(SessionCore, public)), public
        assert inspect.signature(getattr(Realtime, name)).parameters.keys() - {"self"} == (
            inspect.signature(getattr(SessionCore, public)).parameters.keys() - {"self"}
        ), name


async def test_events_built_on_the_audio_path_are_complete_and_typed() -> None:
    from realtime_core import PcmData, RealtimeAudioInputEvent, RealtimeAudioOutputEvent
    from realtime_core.testing import FakeRealtime

    session = FakeRealtime()
    stream = session.events(types=[RealtimeAudioOutputEvent, RealtimeAudioInputEvent])
    await session.connect()
    await session.simple_audio_response(PcmData.silence(20, 16000))
    session._emit_audio_output_event(PcmData.silence(20, 24000), "r1")
    await session.close()
    built = [e async for e in stream]
    assert {type(e) for e in built} == {RealtimeAudioOutputEvent, RealtimeAudioInputEvent}
    for event in built:
        cls = type(event)
        assert set(event.__dict__) == set(cls.model_fields), cls.__name__
        assert event.type == cls.model_fields["type"].default
        assert cls.model_validate(dict(event.__dict__)) == event  # what validation would have built
