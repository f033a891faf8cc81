"""The tool the playground offers every session that takes tools, so tool calls show in the timeline."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

__all__ = ["get_time"]


def get_time(timezone: str = "UTC") -> dict[str, Any]:
    """The current date and time in a time zone.

    :param timezone: an IANA time zone name such as "Europe/Paris" (default UTC)
    """
    if timezone.upper() == "UTC":
        zone: datetime.tzinfo = datetime.UTC  # needs no time zone database
    else:
        try:
            zone = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'") from None
    now = datetime.datetime.now(zone)
    return {"timezone": timezone, "time": now.strftime("%H:%M:%S"), "date": now.date().isoformat()}
