"""``POST /v1/realtime/client_secrets``: ephemeral ``ek_`` keys bound to a session configuration (what a
browser app's server mints for the page)."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from realtime_openai_protocol.client_events import new_id
from realtime_openai_protocol.emulator import RequestError

from .http_answers import http_error

if TYPE_CHECKING:
    from .server import OpenAIEmulator

__all__ = ["mint_client_secret"]


async def mint_client_secret(emu: OpenAIEmulator, request: web.Request) -> web.Response:
    """Validate the body like the real endpoint, bind the session, return ``{value, expires_at, session}``."""
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return http_error(400, "invalid_json", "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return http_error(400, "invalid_type", "Invalid type for body: expected an object.")
    for name in body:  # pyright: ignore[reportUnknownVariableType]
        if name not in ("expires_after", "session"):
            return http_error(400, "unknown_parameter", f"Unknown parameter: '{name}'.", str(name))  # pyright: ignore[reportUnknownArgumentType]
    seconds: Any = 600
    expires_after: Any = body.get("expires_after")  # pyright: ignore[reportUnknownMemberType]
    if expires_after is not None:
        if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != "created_at":  # pyright: ignore[reportUnknownMemberType]
            return http_error(400, "invalid_value", "Invalid 'expires_after': anchor must be 'created_at'.", "expires_after.anchor")
        seconds = expires_after.get("seconds", 600)  # pyright: ignore[reportUnknownMemberType]
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
            return http_error(400, "invalid_value", "Invalid 'expires_after.seconds': expected an integer between 10 and 7200.",
                          "expires_after.seconds")  # fmt: skip
    session: Any = body.get("session") or {"type": "realtime"}  # pyright: ignore[reportUnknownMemberType]
    model = session.get("model") if isinstance(session, dict) else None  # pyright: ignore[reportUnknownMemberType]
    if isinstance(model, str) and not emu.known_model(model):
        return http_error(400, "invalid_model", f"The model '{model}' does not exist or you do not have access to it.", "session.model")
    base = emu.schema.defaults(model if isinstance(model, str) else emu.model)
    try:
        config = emu.schema.apply_update(base, session, audio_produced=False)
    except RequestError as exc:
        return http_error(400, exc.code, exc.message, exc.param)
    value = "ek_" + secrets.token_hex(16)
    expires_at = int(time.time()) + int(seconds)
    emu.secrets[value] = (float(expires_at), config)
    return web.json_response({"value": value, "expires_at": expires_at, "session": emu.schema.echo(config, new_id("sess"), 0)})
