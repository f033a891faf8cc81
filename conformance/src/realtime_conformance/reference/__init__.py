"""The conformance kit's reference provider: a small, complete provider plugin.

It passes every clause of the kit, the kit's own tests break it on purpose to prove each clause can fail,
and ``realtime-conformance init NAME`` renders it into a new provider distribution.
"""

from .capabilities import build_capabilities
from .emulator import ReferenceEmulator
from .session import ReferenceRealtime

__all__ = ["ReferenceEmulator", "ReferenceRealtime", "build_capabilities"]
