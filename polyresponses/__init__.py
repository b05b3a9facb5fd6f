"""polyresponses: one typed Responses API for every LLM provider.

``responses("groq:openai/gpt-oss-120b", "Hi")`` returns the canonical ``Response`` (from
:mod:`polyresponses.types`) whatever the provider speaks; ``stream=True`` gives the canonical
``ResponseStreamEvent`` values. ``Client``/``AsyncClient`` mirror openai-python's
``client.responses``. Errors are the tree in :mod:`polyresponses.router._errors`, re-exported here.

Importing this package stays cheap (PEP 562 lazy attributes): httpx and the generated models
load on first use, not at import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ERRORS = (
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolyresponsesError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
)
_LAZY: dict[str, str] = {
    "responses": "polyresponses.router._api",
    "aresponses": "polyresponses.router._api",
    "aclose_pooled_clients": "polyresponses.router._api",
    "close_pooled_clients": "polyresponses.router._api",
    "Client": "polyresponses.router._client",
    "AsyncClient": "polyresponses.router._client",
    "Stream": "polyresponses.router._stream",
    "AsyncStream": "polyresponses.router._stream",
    "ParsedResponse": "polyresponses.router._response",
    "reasoning_text": "polyresponses.router._response",
    "Provider": "polyresponses.router._providers",
    "Capabilities": "polyresponses.router._providers",
    "providers": "polyresponses.router._providers",
    "function_tool": "polyresponses.router._tools",
    "ResponseStore": "polyresponses.store",
    "MemoryStore": "polyresponses.store",
    "SQLiteStore": "polyresponses.store",
    "StoredConversation": "polyresponses.store",
    "StoredItem": "polyresponses.store",
    "StoredResponse": "polyresponses.store",
    **dict.fromkeys(_ERRORS, "polyresponses.router._errors"),
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Capabilities",
    "Client",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "MemoryStore",
    "MissingAPIKeyError",
    "NotFoundError",
    "ParsedResponse",
    "PermissionDeniedError",
    "PolyresponsesError",
    "Provider",
    "RateLimitError",
    "ResponseStore",
    "SQLiteStore",
    "StoredConversation",
    "StoredItem",
    "StoredResponse",
    "Stream",
    "StreamError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "__version__",
    "aclose_pooled_clients",
    "aresponses",
    "close_pooled_clients",
    "function_tool",
    "providers",
    "reasoning_text",
    "responses",
]

if TYPE_CHECKING:
    from polyresponses.router._api import aclose_pooled_clients, aresponses, close_pooled_clients, responses
    from polyresponses.router._client import AsyncClient, Client
    from polyresponses.router._errors import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        InternalServerError,
        InvalidRequestError,
        MissingAPIKeyError,
        NotFoundError,
        PermissionDeniedError,
        PolyresponsesError,
        RateLimitError,
        StreamError,
        UnprocessableEntityError,
        UnsupportedFeatureError,
    )
    from polyresponses.router._providers import Capabilities, Provider, providers
    from polyresponses.router._response import ParsedResponse, reasoning_text
    from polyresponses.router._stream import AsyncStream, Stream
    from polyresponses.router._tools import function_tool
    from polyresponses.store import (
        MemoryStore,
        ResponseStore,
        SQLiteStore,
        StoredConversation,
        StoredItem,
        StoredResponse,
    )


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'polyresponses' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
