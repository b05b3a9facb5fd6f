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
import urllib.request
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final, Protocol

import httpx

from polyresponses import __version__
from polyresponses.router import _http1
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
    "HTTP1Transport",
    "AsyncHTTP",
    "AsyncHTTPClient",
    "AsyncTransport",
    "HTTPClient",
    "HTTPResponse",
    "RequestSigner",
    "SyncHTTP",
    "Target",
    "Transport",
    "UpstreamReply",
    "fast_async_transport",
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
    request.headers.update(_signed(target, request.method, str(request.url), dict(request.headers), request.content))


def _signed(target: Target, method: str, url: str, headers: dict[str, str], body: bytes) -> Mapping[str, str]:
    """The headers ``target``'s signer adds to this request (none for key-authenticated rows)."""
    if target.signer is None:
        return {}
    try:
        return target.signer(method, url, headers, body)
    except LookupError as error:  # no credentials, or they could not be loaded: refused before the network
        raise MissingAPIKeyError(target.provider, "<credentials>", str(error)) from None


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): the server's word if sane, else backoff."""
    if retry_after is not None and 0 <= retry_after <= _MAX_RETRY_AFTER:
        return retry_after
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * random.random())


def _retry_after(headers: Mapping[str, str]) -> float | None:
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


def request_id_of(headers: Mapping[str, str]) -> str | None:
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


def status_error(target: Target, response: UpstreamReply) -> APIStatusError:
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


def _header_or_body_delay(headers: Mapping[str, str], body: Any) -> float | None:
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


_TRANSPORT_ERRORS: Final = (httpx.HTTPError, _http1.HTTP1Error)


def _transport_error(target: Target, error: httpx.HTTPError | _http1.HTTP1Error, url: str) -> APIConnectionError:
    detail = redact(str(error) or type(error).__name__, target.secret)
    if isinstance(error, httpx.TimeoutException | _http1.TimedOut):
        return APITimeoutError(f"timed out talking to {url}: {detail}", provider=target.provider)
    return APIConnectionError(f"connection to {url} failed: {detail}", provider=target.provider)


def _build(
    client: httpx.Client | httpx.AsyncClient,
    target: Target,
    wire: WireRequest,
    timeout: float | None,
    extra_headers: Mapping[str, str] | None,
) -> httpx.Request:
    return client.build_request(
        wire.method,
        target.base_url + wire.path,
        params={**target.params, **wire.params} or None,
        headers=dict(_headers(target, wire, extra_headers).values()),
        content=None if wire.body is None else _body(wire),
        timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout),
    )


def _raise_for_content_type(target: Target, response: UpstreamReply, wire: WireRequest) -> None:
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


class UpstreamReply(Protocol):
    """What the async shells read of a provider's reply: an ``httpx.Response``, or an ``_http1`` one."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]:
        """Looked up by lower-case name."""
        ...

    @property
    def url(self) -> object: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def is_success(self) -> bool: ...
    @property
    def is_closed(self) -> bool: ...
    def aiter_bytes(self) -> AsyncIterator[bytes]: ...
    async def aread(self) -> bytes: ...
    async def aclose(self) -> None: ...


class AsyncHTTP:
    """The ``asyncio`` twin of :class:`SyncHTTP` over one ``httpx.AsyncClient``.

    Given the transport of :func:`fast_async_transport` (and no client of the caller's), requests go
    straight to its ``_http1`` pool: httpx's client layer (URL parsing, header merging, cookies, hooks)
    costs more than the exchange itself on a fast network (``bench/gateway.py``). Retries, signing and
    errors are the same either way.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self._owned = http_client is None
        self.client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout, limits=_LIMITS)
        self._timeout = timeout
        self._pool = transport.pool if http_client is None and isinstance(transport, HTTP1Transport) else None
        self._urls: dict[tuple[str, str], httpx.URL] = {}

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()

    def _exchange(
        self, target: Target, wire: WireRequest, timeout: float | None, extra_headers: Mapping[str, str] | None
    ) -> _Exchange:
        if self._pool is None:
            return _HttpxExchange(self.client, _build(self.client, target, wire, timeout, extra_headers))
        params = {**target.params, **wire.params}
        key = (target.base_url + wire.path, repr(params) if params else "")
        url = self._urls.get(key)
        if url is None:  # parsed once per endpoint and query: a provider row has a handful
            url = httpx.URL(key[0], params=params or None)
            if len(self._urls) >= 256:
                self._urls.clear()
            self._urls[key] = url
        seconds = timeout if timeout is not None else self._timeout
        headers = _headers(target, wire, extra_headers)
        return _Http1Exchange(self._pool, wire.method, url, headers, _body(wire), seconds)

    async def send(
        self,
        target: Target,
        wire: WireRequest,
        *,
        max_retries: int,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> UpstreamReply:
        """Send with retries. A stream reply comes back open (the caller closes it); others are read."""
        exchange = self._exchange(target, wire, timeout, extra_headers)
        for attempt in range(max_retries + 1):
            last = attempt == max_retries
            if target.signer is not None:  # loading credentials may block (botocore's chain): not on the loop
                await asyncio.to_thread(exchange.sign, target)
            try:
                response = await exchange.open()
            except _TRANSPORT_ERRORS as error:
                if last:
                    raise _transport_error(target, error, exchange.url) from None
                await asyncio.sleep(retry_delay(attempt, None))
                continue
            if response.is_success:
                try:
                    if not wire.stream:
                        await response.aread()
                    _raise_for_content_type(target, response, wire)
                except _TRANSPORT_ERRORS as error:
                    await response.aclose()
                    raise _transport_error(target, error, exchange.url) from None
                except BaseException:
                    await response.aclose()
                    raise
                return response
            try:
                await response.aread()
            except _TRANSPORT_ERRORS as error:
                raise _transport_error(target, error, exchange.url) from None
            finally:
                await response.aclose()
            failure = status_error(target, response)
            if last or not _retryable(response.status_code):
                raise failure
            await asyncio.sleep(retry_delay(attempt, failure.retry_after))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aiter_bytes(self, target: Target, response: UpstreamReply) -> AsyncIterator[bytes]:
        """The body's chunks; a drop or a read timeout mid-stream becomes our connection error."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except _TRANSPORT_ERRORS as error:
            raise _transport_error(target, error, str(response.url)) from None


class _Exchange(Protocol):
    """One request, sent once per attempt."""

    @property
    def url(self) -> str: ...
    def sign(self, target: Target) -> None: ...
    async def open(self) -> UpstreamReply: ...


class _HttpxExchange:
    def __init__(self, client: httpx.AsyncClient, request: httpx.Request) -> None:
        self._client = client
        self._request = request
        self.url = str(request.url)

    def sign(self, target: Target) -> None:
        _sign(target, self._request)

    async def open(self) -> UpstreamReply:
        return await self._client.send(self._request, stream=True)


def _headers(target: Target, wire: WireRequest, extra_headers: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """The request's headers as :func:`_build` gives them to httpx: by lower-case name, each with the
    name as written (sent so) and its value; later ones replace earlier ones whatever their case."""
    headers = {"user-agent": ("user-agent", _USER_AGENT), "accept": ("accept", wire.accept or _accept(wire))}
    for name, value in target.headers.items():
        headers[name.lower()] = (name, value)
    if wire.body is not None:
        headers["content-type"] = ("content-type", "application/json")
    for name, value in (extra_headers or {}).items():
        headers[name.lower()] = (name, value)
    return headers


def _accept(wire: WireRequest) -> str:
    return "text/event-stream" if wire.stream else "application/json"


def _body(wire: WireRequest) -> bytes:
    if wire.body is None:
        return b""
    return json.dumps(wire.body, ensure_ascii=False, separators=(",", ":")).encode()


class _Http1Exchange:
    """A request for the ``_http1`` pool, with the headers httpx would send (Host, Accept-Encoding,
    Content-Length added), so that a signer signs what goes out."""

    def __init__(
        self,
        pool: _http1.Pool,
        method: str,
        url: httpx.URL,
        headers: dict[str, tuple[str, str]],
        body: bytes,
        timeout: float | None,
    ) -> None:
        self._pool = pool
        self._method = method
        self._target = url
        self.url = str(url)
        self._origin = _origin(url)
        headers = {"host": ("Host", url.netloc.decode("ascii")), **headers}
        headers.setdefault("accept-encoding", ("Accept-Encoding", "gzip, deflate"))
        headers.setdefault("connection", ("Connection", "keep-alive"))
        if body or method in ("POST", "PUT", "PATCH"):
            headers["content-length"] = ("Content-Length", str(len(body)))
        self._headers = headers
        self._body = body
        self._timeouts = _http1.Timeouts(timeout, timeout, timeout, timeout)

    def sign(self, target: Target) -> None:
        seen = {name: value for name, (_, value) in self._headers.items()}  # as httpx shows them: lower-case
        for name, value in _signed(target, self._method, self.url, seen, self._body).items():
            self._headers[name.lower()] = (name, value)

    async def open(self) -> UpstreamReply:
        encoded = [(name.encode("ascii"), _header_bytes(value)) for name, value in self._headers.values()]
        reply = await self._pool.request(
            self._method.encode("ascii"), self._origin, self._target.raw_path, encoded, self._body, self._timeouts
        )
        return _Http1Reply(reply, self.url)


def _origin(url: httpx.URL) -> _http1.Origin:
    return (url.scheme, url.raw_host.decode("ascii"), url.port or _http1.default_port(url.scheme))


def _header_bytes(value: str) -> bytes:
    """As httpx encodes a header value: ASCII, else UTF-8."""
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        return value.encode("utf-8")


class _Http1Reply:
    """An ``_http1`` reply with the parts of ``httpx.Response`` the shells read; bodies are decoded
    (gzip and deflate, the codings asked for) as httpx decodes them."""

    def __init__(self, reply: _http1.Reply, url: str) -> None:
        self._reply = reply
        self.url = url
        self.status_code = reply.status
        headers: dict[str, str] = {}
        for raw_name, raw_value in reply.headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value  # RFC 9110 section 5.3
        self.headers: Mapping[str, str] = headers
        self.is_closed = False
        self._content: bytes | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the reply's body has not been read")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    async def aread(self) -> bytes:
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        decoders = _decoders(self.headers.get("content-encoding", ""))
        try:
            async for chunk in self._reply.body():
                for decoder in decoders:
                    chunk = decoder.decompress(chunk)
                if chunk:
                    yield chunk
            rest = b""
            for decoder in decoders:
                rest = decoder.decompress(rest) + decoder.flush()
            if rest:
                yield rest
        except zlib.error as error:
            raise _http1.ProtocolViolation(f"the reply's body does not decode: {error}") from None
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        self.is_closed = True
        await self._reply.aclose()


def _decoders(header: str) -> list[Any]:
    """Decompressors for ``Content-Encoding`` (RFC 9110 section 8.4.1), applied last coding first. As
    httpx does, a coding it has no decoder for is passed over (the body is then left as it came)."""
    decoders: list[Any] = []
    for coding in reversed(header.split(",")):
        match coding.strip().lower():
            case "gzip" | "x-gzip":
                decoders.append(zlib.decompressobj(zlib.MAX_WBITS | 16))
            case "deflate":
                decoders.append(_Deflate())
            case _:
                pass
    return decoders


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped (RFC 1950) or, against the RFC, raw (RFC 1951)."""

    def __init__(self) -> None:
        self._first = True
        self._inner = zlib.decompressobj()

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inner.decompress(data)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data)

    def flush(self) -> bytes:
        return self._inner.flush()


# ------------------------------------------------------------------ the HTTP/1.1 transport (_http1)


def fast_async_transport() -> AsyncTransport | None:
    """httpx's transport interface over :mod:`polyresponses.router._http1` (asyncio and llhttp), for the
    gateway's upstream requests; ``None`` (use httpx's own) without ``httptools`` (the ``[server]`` extra)
    or when the environment names a proxy, which httpx's client honours and ``_http1`` does not."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return None
    if any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies()):
        return None
    return HTTP1Transport(httpx.create_ssl_context())


class HTTP1Transport(httpx.AsyncBaseTransport):
    """``_http1.Pool`` behind httpx's transport interface; httpx's own transport for what it does not do.
    :class:`AsyncHTTP` skips httpx's client and asks the pool itself."""

    def __init__(
        self,
        ssl_context: Any,
        *,
        max_connections: int = _LIMITS.max_connections or 1000,
        pool_timeout: float | None = None,
    ) -> None:
        self.pool = _http1.Pool(ssl_context=ssl_context, max_connections=max_connections, pool_timeout=pool_timeout)
        self._fallback = httpx.AsyncHTTPTransport(verify=ssl_context, limits=_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if request.method == "HEAD" or url.scheme not in ("http", "https"):
            return await self._fallback.handle_async_request(request)
        body: Any
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = request.stream
        limits = request.extensions.get("timeout", {})
        timeouts = _http1.Timeouts(limits.get("connect"), limits.get("read"), limits.get("write"), limits.get("pool"))
        try:
            reply = await self.pool.request(
                request.method.encode("ascii"), _origin(url), url.raw_path, request.headers.raw, body, timeouts
            )
        except _http1.HTTP1Error as error:
            raise _httpx_error(error, request) from None
        return httpx.Response(
            reply.status,
            headers=reply.headers,
            stream=_ReplyStream(reply, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reply.reason},
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
        await self._fallback.aclose()


class _ReplyStream(httpx.AsyncByteStream):
    def __init__(self, reply: _http1.Reply, request: httpx.Request) -> None:
        self._reply = reply
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._reply.body():
                yield chunk
        except _http1.HTTP1Error as error:
            raise _httpx_error(error, self._request) from None

    async def aclose(self) -> None:
        await self._reply.aclose()


_HTTPX_ERRORS: Final[Mapping[type[_http1.HTTP1Error], type[httpx.TransportError]]] = {
    _http1.ConnectFailed: httpx.ConnectError,
    _http1.ConnectTimedOut: httpx.ConnectTimeout,
    _http1.PoolTimedOut: httpx.PoolTimeout,
    _http1.WriteTimedOut: httpx.WriteTimeout,
    _http1.ReadTimedOut: httpx.ReadTimeout,
    _http1.ReadFailed: httpx.RemoteProtocolError,
    _http1.ProtocolViolation: httpx.RemoteProtocolError,
}
"""httpx's exception for each ``_http1`` failure: the one httpcore raises for the same event."""


def _httpx_error(error: _http1.HTTP1Error, request: httpx.Request) -> httpx.TransportError:
    return _HTTPX_ERRORS.get(type(error), httpx.TransportError)(str(error), request=request)
