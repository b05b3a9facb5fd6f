"""The only module that imports httpx: sending, retrying, and turning transport failures into our errors.

Everything above this layer (clients, streams, dialects) sees :class:`WireRequest` going in and
bytes or our errors coming out; no httpx exception escapes. Retries follow openai-python's policy
(exponential backoff from 0.5 s to 8 s with jitter, on connection errors, 408, 409, 429 and 5xx),
honouring ``retry-after-ms`` and ``Retry-After`` (seconds or an HTTP date, RFC 9110 section 10.2.3)
when the server gives one of at most a minute.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from polyresponses import __version__
from polyresponses.router._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    MissingAPIKeyError,
    make_status_error,
    redact,
)
from polyresponses.router.dialects import WireRequest

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "AsyncHTTP",
    "AsyncHTTPClient",
    "AsyncTransport",
    "HTTPClient",
    "HTTPResponse",
    "RequestSigner",
    "SyncHTTP",
    "Target",
    "Transport",
    "request_id_of",
    "retry_delay",
]

HTTPClient = httpx.Client
AsyncHTTPClient = httpx.AsyncClient
HTTPResponse = httpx.Response
Transport = httpx.BaseTransport
AsyncTransport = httpx.AsyncBaseTransport

DEFAULT_TIMEOUT: Final = 600.0
"""Seconds, as openai-python: long generations are normal; a per-call ``timeout`` shortens it."""
DEFAULT_MAX_RETRIES: Final = 2
_MAX_RETRY_AFTER: Final = 60.0
_RETRY_STATUSES: Final = frozenset({408, 409, 429})
_REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "apim-request-id", "x-amzn-requestid")
_USER_AGENT: Final = f"polyresponses/{__version__}"
# openai-python's pool: many concurrent streams must not queue behind httpx's default of 100.
_LIMITS: Final = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom to send: a resolved provider connection. The secret never shows in its repr."""

    provider: str
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    signer: RequestSigner | None = field(default=None, repr=False)
    """Signs each attempt (AWS SigV4, a cloud's bearer token): the headers it returns are added."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Query parameters of every request (Azure's ``api-version``)."""


RequestSigner = Callable[[str, str, Mapping[str, str], bytes], Mapping[str, str]]
"""``(method, URL, headers, body) -> headers to add``; raises ``LookupError`` without credentials."""


def _sign(target: Target, request: httpx.Request) -> None:
    """Add the signer's headers to ``request`` (a no-op for key-authenticated rows)."""
    if target.signer is None:
        return
    try:
        added = target.signer(request.method, str(request.url), dict(request.headers), request.content)
    except LookupError as error:  # no credentials, or they could not be loaded: refused before the network
        raise MissingAPIKeyError(target.provider, "<credentials>", str(error)) from None
    request.headers.update(added)


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): the server's word if sane, else backoff."""
    if retry_after is not None and 0 <= retry_after <= _MAX_RETRY_AFTER:
        return retry_after
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * random.random())


def _retry_after(headers: httpx.Headers) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _retryable(status: int) -> bool:
    return status in _RETRY_STATUSES or status >= 500


def request_id_of(headers: httpx.Headers) -> str | None:
    """The provider's request id, from the first of the usual headers that is present."""
    for name in _REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def _error_message(body: Any, text: str) -> str:
    """The human part of an error body: OpenAI's ``error.message``, Prism/RFC 9457 ``detail``, or the text."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        problems = _validation_problems(body.get("validation"))
        for key in ("message", "detail", "title"):
            if isinstance(body.get(key), str):
                return str(body[key]) + problems
    stripped = text.strip()
    if stripped[:1] == "<":
        return "the server answered with an HTML page, not a JSON error"
    return stripped[:500] or "no error body"


def _validation_problems(validation: Any) -> str:
    """Prism-style ``validation`` entries (``location``, ``message``) as ``; at body.x: ...``, deduplicated."""
    if not isinstance(validation, list):
        return ""
    seen: dict[str, str] = {}
    for problem in validation:
        if isinstance(problem, dict) and isinstance(problem.get("location"), list):
            where = ".".join(str(part) for part in problem["location"])
            seen.setdefault(where, str(problem.get("message", "")))
    shown = [f"at {where}: {message}" for where, message in list(seen.items())[:3]]
    more = f" (+{len(seen) - 3} more)" if len(seen) > 3 else ""
    return ("; " + "; ".join(shown) + more) if shown else ""


def status_error(target: Target, response: httpx.Response) -> APIStatusError:
    """Our error for an HTTP error reply whose body has been read."""
    text = redact(response.text, target.secret)
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text[:2000]
    return make_status_error(
        response.status_code,
        _error_message(body, text),
        provider=target.provider,
        body=body,
        request_id=request_id_of(response.headers),
        retry_after=_header_or_body_delay(response.headers, body),
    )


def _header_or_body_delay(headers: httpx.Headers, body: Any) -> float | None:
    delay = _retry_after(headers)
    return delay if delay is not None else _retry_info(body)


def _retry_info(body: Any) -> float | None:
    """Google's ``google.rpc.RetryInfo`` detail (``{"retryDelay": "3.5s"}`` in ``error.details``), which
    the Gemini API sends with 429s instead of a ``Retry-After`` header (AIP-193, "Error details")."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    return None
    return None


def _transport_error(target: Target, error: httpx.HTTPError, url: str) -> APIConnectionError:
    detail = redact(str(error) or type(error).__name__, target.secret)
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"timed out talking to {url}: {detail}", provider=target.provider)
    return APIConnectionError(f"connection to {url} failed: {detail}", provider=target.provider)


def _build(
    client: httpx.Client | httpx.AsyncClient,
    target: Target,
    wire: WireRequest,
    timeout: float | None,
    extra_headers: Mapping[str, str] | None,
) -> httpx.Request:
    accept = wire.accept or ("text/event-stream" if wire.stream else "application/json")
    headers = {"user-agent": _USER_AGENT, "accept": accept}
    headers.update(target.headers)
    content: bytes | None = None
    if wire.body is not None:
        headers["content-type"] = "application/json"
        content = json.dumps(wire.body, ensure_ascii=False, separators=(",", ":")).encode()
    if extra_headers:
        headers.update(extra_headers)
    return client.build_request(
        wire.method,
        target.base_url + wire.path,
        params={**target.params, **wire.params} or None,
        headers=headers,
        content=content,
        timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout),
    )


def _raise_for_content_type(target: Target, response: httpx.Response, wire: WireRequest) -> None:
    """A 2xx reply must be JSON (or SSE for a stream); an HTML page from a proxy is not an answer."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if wire.stream and kind == "application/json":
        return  # handled by the caller: some servers answer a stream request with one JSON document
    if kind == "text/html":
        raise APIResponseValidationError(
            f"{response.status_code} reply is an HTML page, not {'a stream' if wire.stream else 'JSON'}",
            provider=target.provider,
            body=redact(response.text[:500], target.secret) if response.is_closed else None,
            request_id=request_id_of(response.headers),
        )


class SyncHTTP:
    """Blocking sender over one ``httpx.Client`` (ours, or the caller's, which we then never close)."""

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self._owned = http_client is None
        self.client = http_client or httpx.Client(transport=transport, timeout=timeout, limits=_LIMITS)

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def send(
        self,
        target: Target,
        wire: WireRequest,
        *,
        max_retries: int,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries. A stream reply comes back open (the caller closes it); others are read."""
        request = _build(self.client, target, wire, timeout, extra_headers)
        for attempt in range(max_retries + 1):
            last = attempt == max_retries
            _sign(target, request)  # each attempt afresh: a signature is valid for minutes, credentials expire
            try:
                response = self.client.send(request, stream=True)
            except httpx.HTTPError as error:
                if last:
                    raise _transport_error(target, error, str(request.url)) from None
                time.sleep(retry_delay(attempt, None))
                continue
            if response.is_success:
                try:
                    if not wire.stream:
                        response.read()
                    _raise_for_content_type(target, response, wire)
                except httpx.HTTPError as error:
                    response.close()
                    raise _transport_error(target, error, str(request.url)) from None
                except BaseException:
                    response.close()
                    raise
                return response
            try:
                response.read()
            except httpx.HTTPError as error:
                raise _transport_error(target, error, str(request.url)) from None
            finally:
                response.close()
            failure = status_error(target, response)
            if last or not _retryable(response.status_code):
                raise failure
            time.sleep(retry_delay(attempt, failure.retry_after))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def iter_bytes(self, target: Target, response: httpx.Response) -> Iterator[bytes]:
        """The body's chunks; a drop or a read timeout mid-stream becomes our connection error."""
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as error:
            raise _transport_error(target, error, str(response.request.url)) from None


class AsyncHTTP:
    """The ``asyncio`` twin of :class:`SyncHTTP` over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self._owned = http_client is None
        self.client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout, limits=_LIMITS)

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()

    async def send(
        self,
        target: Target,
        wire: WireRequest,
        *,
        max_retries: int,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries. A stream reply comes back open (the caller closes it); others are read."""
        request = _build(self.client, target, wire, timeout, extra_headers)
        for attempt in range(max_retries + 1):
            last = attempt == max_retries
            if target.signer is not None:  # loading credentials may block (botocore's chain): not on the loop
                await asyncio.to_thread(_sign, target, request)
            try:
                response = await self.client.send(request, stream=True)
            except httpx.HTTPError as error:
                if last:
                    raise _transport_error(target, error, str(request.url)) from None
                await asyncio.sleep(retry_delay(attempt, None))
                continue
            if response.is_success:
                try:
                    if not wire.stream:
                        await response.aread()
                    _raise_for_content_type(target, response, wire)
                except httpx.HTTPError as error:
                    await response.aclose()
                    raise _transport_error(target, error, str(request.url)) from None
                except BaseException:
                    await response.aclose()
                    raise
                return response
            try:
                await response.aread()
            except httpx.HTTPError as error:
                raise _transport_error(target, error, str(request.url)) from None
            finally:
                await response.aclose()
            failure = status_error(target, response)
            if last or not _retryable(response.status_code):
                raise failure
            await asyncio.sleep(retry_delay(attempt, failure.retry_after))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aiter_bytes(self, target: Target, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's chunks; a drop or a read timeout mid-stream becomes our connection error."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as error:
            raise _transport_error(target, error, str(response.request.url)) from None
