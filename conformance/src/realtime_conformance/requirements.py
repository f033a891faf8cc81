"""Requirements: what the suite may expect of a provider, derived from its declared capabilities.

Every clause names the capabilities it needs (``requires=("truncation",)``). A requirement is satisfied when
the session's :class:`~realtime_core.Capabilities` flag is on, unless the plugin's :class:`Requirements`
subclass says otherwise. A clause whose requirement is *not* satisfied still runs, expecting to fail:
it is reported ``unsupported`` if it fails and as a **stale declaration** (a failure) if it passes, so a
plugin cannot under-declare what it does (SQLAlchemy's ``fails_if``, made strict).
"""

from __future__ import annotations

from realtime_core import Capabilities

__all__ = ["Requirements"]


class Requirements:
    """Override a property to change one requirement, e.g.::

        class MyRequirements(Requirements):
            @property
            def truncation(self) -> bool:
                return False  # our service accepts truncate but ignores it
    """

    def __init__(self, capabilities: Capabilities, variants: dict[str, Capabilities] | None = None) -> None:
        self.capabilities = capabilities
        self.variants = variants or {}
        """Capabilities of the other configurations the suite uses: ``"text"`` (text_mode_options) and
        ``"manual"`` (manual_turn_options)."""

    def satisfied(self, name: str) -> bool:
        attr = getattr(type(self), name, None)
        if isinstance(attr, property):
            return bool(getattr(self, name))
        if name not in Capabilities.model_fields:
            raise KeyError(f"unknown requirement {name!r}")
        return self.capabilities.supports(name)

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if not self.satisfied(n)]

    @property
    def text_output(self) -> bool:
        return self.variants.get("text", self.capabilities).text_output

    @property
    def manual_turns(self) -> bool:
        return self.variants.get("manual", self.capabilities).manual_turns

    @property
    def agent_transcript_deltas(self) -> bool:
        return self.capabilities.agent_transcript == "delta"

    @property
    def user_transcript_deltas(self) -> bool:
        return self.capabilities.user_transcript == "delta"
