"""DashScope realtime endpoints: the international and mainland hosts, and workspace-specific hosts.

* international (Singapore): ``wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime``
* mainland China (Beijing): ``wss://dashscope.aliyuncs.com/api-ws/v1/realtime``
* workspace hosts (recommended from 2026): ``wss://{workspace}.ap-southeast-1.maas.aliyuncs.com/...`` and
  ``wss://{workspace}.cn-beijing.maas.aliyuncs.com/...``

The model always goes in the query (``?model=``). API keys are bound to a region: a Singapore key on the
Beijing host is refused with HTTP 401, which looks exactly like a bad key.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from realtime_core import ConfigurationError
from realtime_core.errors import redact

__all__ = ["REALTIME_PATH", "REGIONS", "Region", "check_workspace", "realtime_url"]

Region = Literal["intl", "cn"]
REALTIME_PATH = "/api-ws/v1/realtime"
REGIONS: dict[str, tuple[str, str]] = {
    # region -> (legacy host, workspace host suffix)
    "intl": ("dashscope-intl.aliyuncs.com", "ap-southeast-1.maas.aliyuncs.com"),
    "cn": ("dashscope.aliyuncs.com", "cn-beijing.maas.aliyuncs.com"),
}
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def realtime_url(
    model: str,
    *,
    region: str = "intl",
    workspace: str | None = None,
    workspace_host: bool | None = None,
    base_url: str | None = None,
) -> str:
    """The WebSocket URL for ``model``.

    :param region: ``"intl"`` (Singapore) or ``"cn"`` (Beijing).
    :param workspace: a Model Studio workspace id; by default it selects the workspace host.
    :param workspace_host: force (True) or avoid (False) the workspace host; None: use it when a workspace
        is given.
    :param base_url: an explicit ``ws(s)://`` or ``http(s)://`` URL (a relay, an emulator); a bare host gets
        the standard realtime path, any other path is kept. Overrides ``region``.
    """
    if base_url is not None:
        if not isinstance(base_url, str) or not base_url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ConfigurationError(f"base_url must be a ws(s):// or http(s):// URL, got {redact(str(base_url))!r}")
        parts = urlsplit(base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/") or REALTIME_PATH  # a bare host gets the standard path; others are kept
        query = "&".join(q for q in (parts.query, urlencode({"model": model})) if q)
        return urlunsplit((scheme, parts.netloc, path, query, ""))
    if region not in REGIONS:
        raise ConfigurationError(f"region must be 'intl' (Singapore) or 'cn' (Beijing), got {region!r}")
    legacy, suffix = REGIONS[region]
    use_workspace = workspace is not None if workspace_host is None else workspace_host
    if use_workspace:
        if workspace is None:
            raise ConfigurationError("workspace_host=True needs workspace='<your workspace id>'")
        host = f"{workspace}.{suffix}"
    else:
        host = legacy
    return urlunsplit(("wss", host, REALTIME_PATH, urlencode({"model": model}), ""))


def check_workspace(workspace: object) -> str | None:
    if workspace is None:
        return None
    if not isinstance(workspace, str) or not _WORKSPACE.match(workspace):
        raise ConfigurationError(f"workspace must be a Model Studio workspace id, got {workspace!r}")
    return workspace
