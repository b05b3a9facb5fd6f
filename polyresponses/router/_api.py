"""``responses()`` and ``aresponses()``: one call, any provider (any-llm's signature, ``shared/seeds/001``).

They reuse one pooled client per (provider, key, base URL, client arguments) instead of building a
client, a connection pool and a TLS session per call, which is where any-llm loses most of its
time. Async clients are pooled per event loop, since an ``httpx.AsyncClient`` must not outlive its
loop: each loop's pool is closed by the loop itself when it shuts down (``asyncio.run`` and
``asyncio.Runner`` finalise async generators before closing, and the pool rides on one), so code that
calls ``asyncio.run`` again and again neither leaks connections nor keeps dead loops alive.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from polyresponses.router._client import AsyncClient, Client
from polyresponses.router._core import get_provider, resolve_target_parts
from polyresponses.router._model_string import parse_model_string
from polyresponses.router._params import ResponsesParams
from polyresponses.router._provider_model import TEMPLATE_FIELDS
from polyresponses.router._providers import PROVIDERS

if TYPE_CHECKING:
    from polyresponses.router._response import ParsedResponse
    from polyresponses.router._stream import AsyncStream, Stream
    from polyresponses.types import Response

__all__ = ["aclose_pooled_clients", "aresponses", "close_pooled_clients", "responses"]

T = TypeVar("T")

_PoolKey = tuple[str, str | None, str, tuple[tuple[str, Any], ...]]
_lock = threading.Lock()
_sync_pool: dict[_PoolKey, Client] = {}


class _LoopPool:
    """One event loop's pooled clients and the async generator that closes them at the loop's shutdown."""

    __slots__ = ("clients", "keeper", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clients: dict[_PoolKey, AsyncClient] = {}
        self.keeper: AsyncIterator[None] = self._keep()

    async def _keep(self) -> AsyncIterator[None]:
        # Started once, then parked: the loop's asyncgen hooks track it, and loop.shutdown_asyncgens()
        # (asyncio.run, asyncio.Runner, anyio) runs this finally while the loop can still await.
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if _async_pools.get(id(self.loop)) is self:
            del _async_pools[id(self.loop)]
        clients = list(self.clients.values())
        self.clients.clear()
        for client in clients:
            await client.close()


_async_pools: dict[int, _LoopPool] = {}
"""By ``id(loop)``; an entry holds its loop, so an id is never reused while its entry exists."""


def _route(model: str, params: dict[str, Any]) -> tuple[str, str, _PoolKey, dict[str, Any]]:
    """``(provider, model, pool key, client kwargs)``; pops the client-level keys out of ``params``."""
    provider_name, bare_model = parse_model_string(model, params.pop("provider", None), PROVIDERS)
    api_key, api_base = params.pop("api_key", None), params.pop("api_base", None)
    client_args: Mapping[str, Any] = dict(params.pop("client_args", None) or {})
    if (dialect := params.pop("dialect", None)) is not None:
        client_args = {**client_args, "dialect": dialect}
    # Resolve now: a missing key or base URL fails here, before any client or connection exists.
    row = get_provider(provider_name)
    endpoint = {name: client_args.get(name) for name in TEMPLATE_FIELDS}  # region=, project=, resource=
    token_auth = client_args.get("token_provider") is not None or (row.token_auth is not None and api_key is None)
    base_url, _, secret = resolve_target_parts(row, api_key, api_base, endpoint=endpoint, token_auth=token_auth)
    try:
        frozen_args = tuple(sorted((k, v) for k, v in client_args.items()))
        hash(frozen_args)
    except TypeError:
        frozen_args = (("__id__", id(client_args)),)
    key: _PoolKey = (provider_name, secret, base_url, frozen_args)
    kwargs = {"api_key": api_key, "api_base": api_base, **client_args}
    return provider_name, bare_model, key, kwargs


def _sync_client(provider: str, key: _PoolKey, kwargs: dict[str, Any]) -> Client:
    with _lock:
        client = _sync_pool.get(key)
        if client is None:
            client = _sync_pool[key] = Client(provider, **kwargs)
        return client


async def _async_client(provider: str, key: _PoolKey, kwargs: dict[str, Any]) -> AsyncClient:
    loop = asyncio.get_running_loop()
    pool = _async_pools.get(id(loop))
    if pool is None:
        for stale in [pool for pool in list(_async_pools.values()) if pool.loop.is_closed()]:
            # A loop closed without finalising its async generators: its sockets go with the clients.
            _async_pools.pop(id(stale.loop), None)
        pool = _async_pools[id(loop)] = _LoopPool(loop)
        await anext(pool.keeper)
    client = pool.clients.get(key)
    if client is None:
        client = pool.clients[key] = AsyncClient(provider, **kwargs)
    return client


def close_pooled_clients() -> None:
    """Close the pooled sync clients (e.g. at shutdown or between tests).

    Async pools close themselves when their event loop shuts down; :func:`aclose_pooled_clients`
    closes the running loop's pool sooner.
    """
    with _lock:
        clients = list(_sync_pool.values())
        _sync_pool.clear()
    for client in clients:
        client.close()


async def aclose_pooled_clients() -> None:
    """Close the clients ``aresponses()`` pooled for the running event loop."""
    pool = _async_pools.get(id(asyncio.get_running_loop()))
    if pool is not None:
        await pool.aclose()


def _prepare(model: str, input_data: Any, params: dict[str, Any]) -> tuple[str, str, _PoolKey, dict[str, Any]]:
    if "input" in params:
        raise TypeError("pass the input as input_data (the second argument), not input=")
    params["input"] = input_data
    return _route(model, params)


@overload
def responses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[True],
    response_format: None | Mapping[str, Any] = None,
    **params: Unpack[ResponsesParams],
) -> Stream[Response]: ...
@overload
def responses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[True],
    response_format: type[T],
    **params: Unpack[ResponsesParams],
) -> Stream[ParsedResponse[T]]: ...
@overload
def responses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[False] | None = None,
    response_format: type[T],
    **params: Unpack[ResponsesParams],
) -> ParsedResponse[T]: ...
@overload
def responses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[False] | None = None,
    response_format: None | Mapping[str, Any] = None,
    **params: Unpack[ResponsesParams],
) -> Response: ...
def responses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: bool | None = None,
    response_format: Any = None,
    **params: Any,
) -> Any:
    """Create a response with any provider: ``responses("groq:openai/gpt-oss-120b", "Hi")``.

    ``model`` is ``"provider:model"`` (or a bare model with ``provider=``); ``input_data`` a string
    or a list of input items (dicts or models). The other keywords are the Responses API's (see
    ``ResponsesParams``), plus ``api_key``, ``api_base``, ``client_args`` (``Client`` arguments such
    as ``max_retries`` or ``http_client``) and ``response_format`` (a pydantic model, dataclass or
    TypedDict gives a ``ParsedResponse``). Unknown keywords go into the request body.

    Returns a ``Response``; a ``ParsedResponse[T]`` with a format type; with ``stream=True`` a
    :class:`Stream` of ``ResponseStreamEvent`` (already sent; use it in ``with``).
    """
    provider, bare_model, key, kwargs = _prepare(model, input_data, params)
    client = _sync_client(provider, key, kwargs)
    if stream:
        return client.responses.stream(model=bare_model, response_format=response_format, **params).open()
    if isinstance(response_format, type):
        return client.responses.parse(model=bare_model, response_format=response_format, **params)
    if response_format is not None:
        params["text"] = _with_format(params, response_format)
    return client.responses.create(model=bare_model, **params)


@overload
async def aresponses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[True],
    response_format: None | Mapping[str, Any] = None,
    **params: Unpack[ResponsesParams],
) -> AsyncStream[Response]: ...
@overload
async def aresponses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[True],
    response_format: type[T],
    **params: Unpack[ResponsesParams],
) -> AsyncStream[ParsedResponse[T]]: ...
@overload
async def aresponses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[False] | None = None,
    response_format: type[T],
    **params: Unpack[ResponsesParams],
) -> ParsedResponse[T]: ...
@overload
async def aresponses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: Literal[False] | None = None,
    response_format: None | Mapping[str, Any] = None,
    **params: Unpack[ResponsesParams],
) -> Response: ...
async def aresponses(
    model: str,
    input_data: str | Sequence[Any],
    *,
    stream: bool | None = None,
    response_format: Any = None,
    **params: Any,
) -> Any:
    """The async twin of :func:`responses`; with ``stream=True`` an :class:`AsyncStream`, already sent."""
    provider, bare_model, key, kwargs = _prepare(model, input_data, params)
    client = await _async_client(provider, key, kwargs)
    if stream:
        return await client.responses.stream(model=bare_model, response_format=response_format, **params).open()
    if isinstance(response_format, type):
        return await client.responses.parse(model=bare_model, response_format=response_format, **params)
    if response_format is not None:
        params["text"] = _with_format(params, response_format)
    return await client.responses.create(model=bare_model, **params)


def _with_format(params: Mapping[str, Any], response_format: Mapping[str, Any]) -> dict[str, Any]:
    """``text`` with a dict ``response_format`` as its ``format`` (passed through, not parsed)."""
    from polyresponses.router._structured import text_format_for

    text = dict(params.get("text") or {})
    if "format" in text:
        raise TypeError("give either response_format or text.format, not both")
    text["format"] = text_format_for(response_format)
    return text
