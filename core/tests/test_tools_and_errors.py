"""Tool schemas and invocation; the error hierarchy; secrets."""

from __future__ import annotations

import logging
import pickle
from typing import Literal

import pytest

from realtime_core import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    MissingAPIKeyError,
    ProviderError,
    QuotaExceededError,
    RealtimeError,
    SecretStr,
    Tool,
    ToolCall,
    ToolRegistry,
    UnsupportedCapability,
    resolve_api_key,
    tool,
)
from realtime_core.errors import redact


def book_table(restaurant: str, people: int, when: Literal["lunch", "dinner"] = "dinner") -> str:
    """Book a table.

    :param restaurant: where
    :param people: how many guests
    """
    return f"{restaurant}:{people}:{when}"


class TestTools:
    def test_schema_from_hints_and_docstring(self) -> None:
        t = Tool(book_table)
        schema = t.schema()
        assert schema["name"] == "book_table" and schema["description"] == "Book a table."
        params = schema["parameters"]
        assert params["type"] == "object" and params["required"] == ["restaurant", "people"]
        assert params["properties"]["people"] == {"type": "integer", "description": "how many guests"}
        assert params["properties"]["when"]["enum"] == ["lunch", "dinner"]

    async def test_invoke_validates_and_runs_sync_in_thread(self) -> None:
        t = Tool(book_table)
        assert await t.invoke({"restaurant": "Chez", "people": "2"}) == "Chez:2:dinner"
        with pytest.raises(ValueError, match="invalid arguments"):
            await t.invoke({"restaurant": "Chez"})

    async def test_decorator_and_registry(self) -> None:
        @tool(name="ping", timeout=1)
        async def ping_tool() -> str:
            """Ping."""
            return "pong"

        reg = ToolRegistry([ping_tool, book_table])
        assert "ping" in reg and len(reg) == 2 and reg.get("ping") is ping_tool
        result = await reg.run(ToolCall("c", "ping", ""), timeout=5)
        assert result.ok and result.output == "pong" and result.as_json() == '"pong"'
        assert result.as_dict() == {"result": "pong"}
        with pytest.raises(ConfigurationError, match="already registered"):
            reg.register(book_table)

    async def test_bad_arguments_json_is_an_error_result(self) -> None:
        reg = ToolRegistry([book_table])
        result = await reg.run(ToolCall("c", "book_table", "[1, 2]"), timeout=5)
        assert not result.ok and "JSON object" in (result.error or "")
        assert result.as_dict() == {"error": result.error}

    def test_invalid_names(self) -> None:
        with pytest.raises(ConfigurationError):
            Tool(book_table, name="has spaces")
        with pytest.raises(ConfigurationError):
            Tool("not callable")  # type: ignore[arg-type]


class TestErrors:
    def test_recoverable_defaults(self) -> None:
        assert ConnectionFailedError("x").recoverable
        assert ProviderError("x").recoverable
        assert not AuthenticationError("x").recoverable
        assert not QuotaExceededError("x").recoverable
        assert not UnsupportedCapability("say", "no").recoverable
        assert ProviderError("x", recoverable=False).recoverable is False

    def test_str_and_pickle(self) -> None:
        err = ProviderError("went wrong", code="server_error", provider="acme")
        assert str(err) == "[acme] went wrong (code: server_error)"
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is ProviderError and again.code == "server_error" and again.provider == "acme"
        cap = pickle.loads(pickle.dumps(UnsupportedCapability("say", "no say", provider="acme")))
        assert cap.capability == "say" and cap.provider == "acme"
        assert isinstance(err, RealtimeError)

    @pytest.mark.parametrize(
        "text",
        [
            "Authorization: Bearer sk-proj-abcdefghijklmnop",
            "key=AIzaSyA1234567890abcdefghijklmnop",
            "failed for sk-abcdefghijklmnopqrstuv",
            "url?key=supersecretvalue123&x=1",
            "ek_0123456789abcdef0123456789abcdef",
            "x-goog-api-key: abcdefghijklmnop",
        ],
    )
    def test_secrets_are_redacted_from_messages(self, text: str) -> None:
        err = ProviderError(text)
        for secret in ("abcdefghijklmnop", "1234567890abcdefghij", "supersecretvalue123", "0123456789abcdef0123"):
            assert secret not in str(err) and secret not in repr(err)
        assert "***" in redact(text)


class TestKeys:
    def test_argument_then_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ACME_KEY", "from-env-123456")
        assert resolve_api_key(None, ["ACME_KEY"], provider="acme").get_secret_value() == "from-env-123456"  # type: ignore[union-attr]
        key = resolve_api_key("from-arg-123456", ["ACME_KEY"], provider="acme")
        assert key is not None and key.get_secret_value() == "from-arg-123456"
        assert "from-arg" not in repr(key) and "from-arg" not in str(key)

    def test_missing_key_says_what_to_do(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("ACME_KEY", raising=False)
        with pytest.raises(MissingAPIKeyError, match="pass api_key=... or set ACME_KEY"):
            resolve_api_key(None, ["ACME_KEY"], provider="acme")
        assert resolve_api_key(None, ["ACME_KEY"], provider="acme", required=False) is None

    def test_secretstr_never_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        logging.getLogger("t").info("key is %s", SecretStr("sk-very-secret-value"))
        assert "sk-very-secret-value" not in caplog.text
