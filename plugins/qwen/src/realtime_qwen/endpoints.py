"""DashScope realtime endpoints: the regional hosts, and the workspace hosts.

* regional hosts: international (Singapore) ``wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime``,
  mainland China (Beijing) ``wss://dashscope.aliyuncs.com/...``, Hong Kong
  ``wss://cn-hongkong.dashscope.aliyuncs.com/...``; the other international regions are served by the
  Singapore host (the official SDK's mapping, dashscope 2.0.2);
* workspace hosts (recommended from 2026, **required** by ``qwen3.8-omni-flash-realtime``):
  ``wss://{workspace}.{region}.maas.aliyuncs.com/api-ws/v1/realtime`` (``ap-southeast-1``, ``cn-beijing``...),
  with the header ``X-DashScope-WorkSpace``.

The model always goes in the query (``?model=``). API keys are bound to a region: a Singapore key on the
Beijing host is refused with HTTP 401, which looks exactly like a bad key.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from realtime_core import ConfigurationError
from realtime_core.errors import redact

from .models import resolve_model

__all__ = ["REALTIME_PATH", "REGIONS", "check_workspace", "region_id", "realtime_url"]

REALTIME_PATH = "/api-ws/v1/realtime"
REGIONS: dict[str, str] = {
    # region id -> its regional (legacy) host; the workspace host is {workspace}.{region id}.maas.aliyuncs.com
    "ap-southeast-1": "dashscope-intl.aliyuncs.com",
    "cn-beijing": "dashscope.aliyuncs.com",
    "cn-hongkong": "cn-hongkong.dashscope.aliyuncs.com",
    "us-east-1": "dashscope-intl.aliyuncs.com",
    "eu-central-1": "dashscope-intl.aliyuncs.com",
    "ap-northeast-1": "dashscope-intl.aliyuncs.com",
}
ALIASES = {"intl": "ap-southeast-1", "cn": "cn-beijing"}
"""The short names this plugin has always taken: ``intl`` (Singapore) and ``cn`` (Beijing)."""
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def region_id(region: object) -> str:
    """The region id for ``region`` (an alias or an id); :class:`ConfigurationError` naming the choices."""
    if isinstance(region, str):
        region = ALIASES.get(region, region)
        if region in REGIONS:
            return region
    choices = ", ".join(f"'{r}'" for r in (*ALIASES, *REGIONS))
    raise ConfigurationError(f"region must be one of {choices}, got {region!r}")


def realtime_url(
    model: str,
    *,
    region: str = "intl",
    workspace: str | None = None,
    workspace_host: bool | None = None,
    base_url: str | None = None,
) -> str:
    """The WebSocket URL for ``model``.

    :param region: ``"intl"`` (Singapore), ``"cn"`` (Beijing) or a region id (``cn-hongkong``...).
    :param workspace: a Model Studio workspace id; by default it selects the workspace host.
    :param workspace_host: force (True) or avoid (False) the workspace host; None: use it when a workspace
        is given.
    :param base_url: an explicit ``ws(s)://`` or ``http(s)://`` URL (a relay, an emulator); a bare host gets
        the standard realtime path, any other path is kept. Overrides ``region``.
    :raises ConfigurationError: a bad value, or a model served only on workspace hosts without one.
    """
    if base_url is not None:
        if not isinstance(base_url, str) or not base_url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ConfigurationError(f"base_url must be a ws(s):// or http(s):// URL, got {redact(str(base_url))!r}")
        parts = urlsplit(base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/") or REALTIME_PATH  # a bare host gets the standard path; others are kept
        query = "&".join(q for q in (parts.query, urlencode({"model": model})) if q)
        return urlunsplit((scheme, parts.netloc, path, query, ""))
    rid = region_id(region)
    use_workspace = workspace is not None if workspace_host is None else workspace_host
    if use_workspace:
        if workspace is None:
            raise ConfigurationError("workspace_host=True needs workspace='<your workspace id>'")
        host = f"{workspace}.{rid}.maas.aliyuncs.com"
    else:
        if resolve_model(model).workspace_only:
            raise ConfigurationError(
                f"model: {model} is served only on workspace hosts; pass workspace='<your Model Studio workspace id>' "
                "(and keep workspace_host unset)"
            )
        host = REGIONS[rid]
    return urlunsplit(("wss", host, REALTIME_PATH, urlencode({"model": model}), ""))


def check_workspace(workspace: object) -> str | None:
    if workspace is None:
        return None
    if not isinstance(workspace, str) or not _WORKSPACE.match(workspace):
        raise ConfigurationError(f"workspace must be a Model Studio workspace id, got {workspace!r}")
    return workspace
