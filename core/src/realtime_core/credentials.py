"""API keys: read from arguments or the provider's usual environment variable, kept as ``SecretStr``.

A ``SecretStr`` prints as ``**********`` in reprs, logs and pydantic dumps; call
``get_secret_value()`` only where the key goes on the wire.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import SecretStr

from .errors import MissingAPIKeyError

__all__ = ["SecretStr", "resolve_api_key"]


def resolve_api_key(
    api_key: str | SecretStr | None, env_vars: Sequence[str], *, provider: str, required: bool = True
) -> SecretStr | None:
    """The key passed in, else the first set variable of ``env_vars``.

    :raises MissingAPIKeyError: if ``required`` and there is no key, saying which variable to set.
    """
    if isinstance(api_key, SecretStr):
        value = api_key.get_secret_value()
    else:
        value = api_key
    if not value:
        for name in env_vars:
            value = os.environ.get(name)
            if value:
                break
    if value:
        return SecretStr(value.strip())
    if required:
        hint = f"set {' or '.join(env_vars)}" if env_vars else "pass one"
        raise MissingAPIKeyError(
            f"no API key for {provider}: pass api_key=... or {hint}", provider=provider
        )
    return None
