"""Clauses the reference provider fails today because of a defect in realtime-core, not in the provider.

The kit's own tests declare them as known failures: they are reported as such, and as *stale* once core is
fixed, so this list empties itself. Keep it empty whenever possible.
"""

CORE_ISSUES: dict[str, str] = {}
