"""``realtime playground``: talk to any installed provider from a browser.

A local web page sends the microphone (and the camera, for providers with video input) over WebRTC to
this server, which bridges each browser tab into its own realtime session and sends the agent's voice
back on a WebRTC track; events and commands travel over a data channel. Built only on the public
session API. Needs the ``playground`` extra (aiortc, aiohttp)::

    pip install 'realtime-core[playground]'
    realtime playground --emulator            # offline, against the bundled emulators

:func:`require_extra` raises a :class:`~realtime_core.errors.ConfigurationError` naming that command
when the extra is missing; import :mod:`realtime_core.playground.server` only after it passed.
"""

from __future__ import annotations

import importlib.util

from ..errors import ConfigurationError

__all__ = ["EXTRA_HINT", "require_extra"]

EXTRA_HINT = "pip install 'realtime-core[playground]'"
_NEEDS = ("aiortc", "aiohttp")


def require_extra() -> None:
    """Check that the playground's dependencies are importable.

    :raises ConfigurationError: naming the missing packages and the install command.
    """
    missing = [name for name in _NEEDS if not _importable(name)]
    if missing:
        raise ConfigurationError(
            f"realtime playground needs {' and '.join(missing)}, which the playground extra installs: {EXTRA_HINT}"
        )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken install
        return False
