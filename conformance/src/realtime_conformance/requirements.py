"""Requirements: what the suite may expect of a provider, derived from its declared capabilities.

Every clause names the capabilities it needs (``requires=("truncation",)``). A requirement is satisfied when
the session's :class:`~realtime_core.Capabilities` flag is on, unless the plugin's :class:`Requirements`
subclass says otherwise. A clause whose requirement is *not* satisfied still runs, expecting to fail:
it is reported ``unsupported`` if it fails and as a **stale declaration** (a failure) if it passes, so a
plugin cannot under-declare what it does (SQLAlchemy's ``fails_if``, made strict). A requirement whose
answer depends on a configuration the kit was not given (text replies, manual turns) is *unknown*: the
clause is reported as not exercised, never as unsupported.
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

    :param capabilities: the capabilities of the configuration under test.
    :param variants: capabilities of the other configurations the suite uses: ``"text"`` (text replies) and
        ``"manual"`` (manual turns).
    :param named: the plugin names its configurations (``ProviderSpec.variants``), so a configuration it does
        not name does not exist; otherwise a missing one is unknown.
    """

    def __init__(
        self, capabilities: Capabilities, variants: dict[str, Capabilities] | None = None, *, named: bool = False
    ) -> None:
        self.capabilities = capabilities
        self.variants = variants or {}
        self.named = named

    def value(self, name: str) -> bool | None:
        """Whether requirement ``name`` is met; None when the kit cannot know (a configuration is missing)."""
        attr = getattr(type(self), name, None)
        if isinstance(attr, property):
            got = getattr(self, name)
            return None if got is None else bool(got)
        if name not in Capabilities.model_fields:
            raise KeyError(f"unknown requirement {name!r}")
        return self.capabilities.supports(name)

    def satisfied(self, name: str) -> bool:
        return self.value(name) is True

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if self.value(n) is False]

    def unknown(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if self.value(n) is None]

    def _variant_flag(self, variant: str, flag: str) -> bool | None:
        if variant in self.variants:
            return self.variants[variant].supports(flag)
        if self.capabilities.supports(flag):
            return True
        return False if self.named else None

    @property
    def text_output(self) -> bool | None:
        return self._variant_flag("text", "text_output")

    @property
    def manual_turns(self) -> bool | None:
        return self._variant_flag("manual", "manual_turns")

    @property
    def agent_transcript_deltas(self) -> bool:
        return self.capabilities.agent_transcript == "delta"

    @property
    def user_transcript_deltas(self) -> bool:
        return self.capabilities.user_transcript == "delta"
