"""The emulator's HTTP answers: errors shaped like the real API's, and CORS like the real API (a browser
page, as in the WebRTC quickstart, mints nothing itself but POSTs its SDP offer cross-origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["CORS_HEADERS", "cors_middleware", "http_error", "preflight"]

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, OpenAI-Beta, OpenAI-Organization, OpenAI-Project",
    "Access-Control-Expose-Headers": "Location",
    "Access-Control-Max-Age": "600",
}


@web.middleware
async def cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every HTTP answer carries the CORS headers (a WebSocket upgrade needs none)."""
    response = await handler(request)
    if not isinstance(response, web.WebSocketResponse) and not response.prepared:
        response.headers.update(CORS_HEADERS)
    return response


async def preflight(request: web.Request) -> web.StreamResponse:
    """``OPTIONS``: the browser's preflight before a cross-origin POST with an Authorization header."""
    return web.Response(status=204, headers=CORS_HEADERS)


def http_error(
    status: int, code: str | None, message: str, param: str | None = None, kind: str = "invalid_request_error"
) -> web.Response:
    """An error answer shaped like the real API's (``{"error": {message, type, param, code}}``)."""
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}}, status=status)
