"""The gateway's HTTP/1.1 client (``router/_http1.py``) and the async shell's direct path to it (``_http``).

The transport faults (drops, resets, stalls, retries, leaks, key redaction) run on this client too: the
``http1`` shell of ``test_faults.py``. Here: what a request looks like on the wire beside httpx's (the
same bytes a server and a signer see), message framing and content codings, the pool (reuse, expiry,
its cap, a cancelled request), backpressure, TLS, and the transport under httpx's own client.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hashlib
import ipaddress
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyresponses import APIConnectionError, APITimeoutError
from polyresponses.router import _http1
from polyresponses.router._http import (
    AsyncHTTP,
    HTTP1Transport,
    Target,
    UpstreamReply,
    fast_async_transport,
)
from polyresponses.router.dialects import WireRequest
from tests._loopback import Exchange, LoopbackServer, json_reply, raw_reply

pytestmark = pytest.mark.anyio

BODY = {"model": "m", "input": "héllo"}
REPLY = {"id": "resp_1", "text": "ünïcode " * 50}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(default=json_reply(REPLY)) as loopback:
        yield loopback
        assert loopback.errors == [], "the loopback server's handlers failed"


@pytest.fixture
async def http1() -> AsyncIterator[AsyncHTTP]:
    transport = HTTP1Transport(httpx.create_ssl_context())
    http = AsyncHTTP(transport=transport, timeout=5.0)
    yield http
    await http.close()


def target(server: LoopbackServer, **extra: Any) -> Target:
    return Target(
        "openai_compatible", server.url, {"Authorization": "Bearer sk-test", "X-Custom": "a b"}, "sk-test", **extra
    )


def _origin(server: LoopbackServer) -> tuple[str, str, int]:
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    return ("http", host, int(port))


async def read(http: AsyncHTTP, where: Target, wire: WireRequest) -> tuple[UpstreamReply, bytes]:
    reply = await http.send(where, wire, max_retries=0)
    if not wire.stream:
        return reply, reply.content
    return reply, b"".join([chunk async for chunk in http.aiter_bytes(where, reply)])


# ---------------------------------------------------------------------- 1. the same request as httpx's


def _hashing_signer(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Mapping[str, str]:
    """Signs what it is shown, as SigV4 does: any difference between the two paths changes the signature."""
    seen = json.dumps([method, url, sorted(headers.items()), body.decode()])
    return {"X-Signature": hashlib.sha256(seen.encode()).hexdigest()}


WIRES = [
    WireRequest("POST", "/responses", BODY),
    WireRequest("POST", "/responses", BODY, stream=True),
    WireRequest("GET", "/responses/resp_1", params={"include": ["a", "b"], "stream": "false"}),
    WireRequest("DELETE", "/responses/resp_1"),
    WireRequest("POST", "/responses/resp_1/cancel"),
]


@pytest.mark.parametrize("wire", WIRES, ids=["create", "stream", "get-with-query", "delete", "post-without-body"])
async def test_a_request_goes_out_as_httpx_sends_it(
    server: LoopbackServer, http1: AsyncHTTP, wire: WireRequest
) -> None:
    """Method, path and query, every header (names as written, values), the body, and so the signature."""
    server.default = raw_reply(b"{}", content_type="application/json")
    where = target(server, signer=_hashing_signer, params={"api-version": "2025-04-01-preview"})
    # httpx asks for the codings its installed decoders read (br, zstd when present), ours for gzip and
    # deflate: named here, both send the same, and the signer must then see the same headers.
    where = Target(
        where.provider,
        where.base_url,
        {**where.headers, "Accept-Encoding": "gzip, deflate"},
        secret=where.secret,
        signer=where.signer,
        params=where.params,
    )
    by_httpx = AsyncHTTP(transport=httpx.AsyncHTTPTransport(), timeout=5.0)
    try:
        await read(by_httpx, where, wire)
    finally:
        await by_httpx.close()
    await read(http1, where, wire)
    ours, theirs = server.requests[1], server.requests[0]
    assert (ours.method, ours.path, ours.body) == (theirs.method, theirs.path, theirs.body)
    assert ours.headers == theirs.headers
    assert "X-Signature" in ours.headers and "api-version=2025-04-01-preview" in ours.path


async def test_the_reply_reads_as_httpx_reads_it(server: LoopbackServer, http1: AsyncHTTP) -> None:
    server.default = raw_reply(
        json.dumps(REPLY), content_type="application/json", headers={"X-Request-Id": "req_1", "Set-Cookie": "a=1"}
    )
    reply, body = await read(http1, target(server), WIRES[0])
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"  # the codings it decodes
    assert (reply.status_code, json.loads(body), reply.text) == (200, REPLY, body.decode())
    assert (reply.headers["content-type"], reply.headers["x-request-id"]) == ("application/json", "req_1")
    assert reply.is_success and reply.is_closed


# ----------------------------------------------------------------------- 2. framing and content codings


def _encoded(body: bytes, coding: str) -> bytes:
    match coding:
        case "gzip":
            return gzip.compress(body)
        case "deflate":
            return zlib.compress(body)
        case "raw-deflate":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            return packer.compress(body) + packer.flush()
        case _:
            return body


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "identity"])
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_bodies_are_read_whatever_their_framing_and_coding(
    server: LoopbackServer, http1: AsyncHTTP, coding: str, framing: str
) -> None:
    """RFC 9112 section 6.3 (length, chunks, the server's close) and RFC 9110 section 8.4.1 (codings)."""
    data = _encoded(json.dumps(REPLY).encode(), coding)
    name = "deflate" if coding == "raw-deflate" else coding

    def behaviour(exchange: Exchange) -> None:
        headers = {"Content-Encoding": name}
        if framing == "length":
            exchange.reply(200, data, content_type="application/json", headers=headers)
            return
        exchange.start(
            content_type="application/json", framing="chunked" if framing == "chunked" else "close", headers=headers
        )
        for start in range(0, len(data), 7):  # small pieces: a decoder must carry its state across them
            exchange.write(data[start : start + 7])
        exchange.end()

    server.script(behaviour, behaviour)
    for wire in (WIRES[0], WIRES[1]):
        _, body = await read(http1, target(server), wire)
        assert json.loads(body) == REPLY


async def test_a_coding_without_a_decoder_is_passed_over(server: LoopbackServer, http1: AsyncHTTP) -> None:
    """As httpx does: the body is left as it came (and reads as what it is), the status is not hidden."""
    server.default = raw_reply(b"\x00\x01", content_type="application/json", headers={"Content-Encoding": "br"})
    _, body = await read(http1, target(server), WIRES[0])
    assert body == b"\x00\x01"


async def test_codings_are_undone_last_first(server: LoopbackServer, http1: AsyncHTTP) -> None:
    data = gzip.compress(zlib.compress(json.dumps(REPLY).encode()))
    server.default = raw_reply(data, content_type="application/json", headers={"Content-Encoding": "deflate, gzip"})
    _, body = await read(http1, target(server), WIRES[0])
    assert json.loads(body) == REPLY


async def test_a_body_that_does_not_decode_is_a_connection_error(server: LoopbackServer, http1: AsyncHTTP) -> None:
    server.default = raw_reply(
        b"not gzip at all", content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(APIConnectionError, match="does not decode"):
        await read(http1, target(server), WIRES[0])


async def test_an_interim_response_is_skipped(server: LoopbackServer, http1: AsyncHTTP) -> None:
    """RFC 9110 section 15.2: a 1xx reply comes before the final one and is not it."""

    def behaviour(exchange: Exchange) -> None:
        exchange._handler.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
        exchange.reply(200, json.dumps(REPLY).encode(), content_type="application/json")

    server.script(behaviour)
    reply, body = await read(http1, target(server), WIRES[0])
    assert (reply.status_code, json.loads(body)) == (200, REPLY)
    assert "link" not in reply.headers


async def test_bytes_that_are_not_http_are_a_connection_error(server: LoopbackServer, http1: AsyncHTTP) -> None:
    def behaviour(exchange: Exchange) -> None:
        exchange._handler.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        exchange.pause(0.5)

    server.script(behaviour)
    with pytest.raises(APIConnectionError, match="not valid HTTP/1.1"):
        await read(http1, target(server), WIRES[0])


# ---------------------------------------------------------------------------------------- 3. the pool


async def test_a_connection_is_kept_until_its_server_says_close(server: LoopbackServer, http1: AsyncHTTP) -> None:
    body = json.dumps(REPLY).encode()
    server.script(
        raw_reply(body, content_type="application/json"),
        raw_reply(body, content_type="application/json", headers={"Connection": "close"}),
    )
    for _ in range(3):
        await read(http1, target(server), WIRES[0])
    assert [request.connection for request in server.requests] == [1, 1, 2]


async def test_a_connection_idle_past_the_expiry_is_not_reused(server: LoopbackServer) -> None:
    pool = _http1.Pool(keepalive_expiry=0.2)
    for pause in (0.0, 0.4):
        await asyncio.sleep(pause)
        reply = await pool.request(b"GET", _origin(server), b"/v1/x", [(b"Host", b"h")], b"", _http1.Timeouts(read=5))
        assert b"".join([chunk async for chunk in reply.body()]) == json.dumps(REPLY).encode()
    await pool.aclose()
    assert [request.connection for request in server.requests] == [1, 2]
    assert server.wait_for(lambda s: s.connections_open == 0)


async def test_an_idle_connection_the_server_closed_is_replaced(server: LoopbackServer, http1: AsyncHTTP) -> None:
    """A keep-alive connection the server drops while it sits in the pool is never handed out."""

    def reply_then_hang_up(exchange: Exchange) -> None:
        exchange.reply(200, json.dumps(REPLY).encode(), content_type="application/json")
        exchange.pause(0.05)
        exchange.drop()

    server.script(reply_then_hang_up)
    await read(http1, target(server), WIRES[0])
    assert server.wait_for(lambda s: s.connections_open == 0)
    await asyncio.sleep(0.05)  # the client's loop sees the hang-up
    await read(http1, target(server), WIRES[0])
    assert [request.connection for request in server.requests] == [1, 2]


async def test_the_pool_cap_makes_requests_wait_then_time_out(server: LoopbackServer) -> None:
    def slow(exchange: Exchange) -> None:
        exchange.pause(0.3)
        exchange.reply(200, json.dumps(REPLY).encode(), content_type="application/json")

    server.default = slow
    http = AsyncHTTP(transport=HTTP1Transport(None, max_connections=1), timeout=5.0)
    try:
        replies = await asyncio.gather(*(read(http, target(server), WIRES[0]) for _ in range(3)))
        assert [json.loads(body) for _, body in replies] == [REPLY] * 3
        assert server.connections_opened == 1, "three requests, one after another, on the one connection"
    finally:
        await http.close()
    waiting = AsyncHTTP(transport=HTTP1Transport(None, max_connections=1, pool_timeout=0.1), timeout=5.0)
    try:
        first = asyncio.ensure_future(read(waiting, target(server), WIRES[0]))
        await asyncio.sleep(0.05)
        with pytest.raises(APITimeoutError, match="no connection came free"):
            await read(waiting, target(server), WIRES[0])
        await first
    finally:
        await waiting.close()


async def test_a_cancelled_request_closes_its_connection(server: LoopbackServer, http1: AsyncHTTP) -> None:
    def stall(exchange: Exchange) -> None:
        exchange.pause(5)

    server.script(stall)
    task = asyncio.ensure_future(read(http1, target(server), WIRES[0]))
    assert await asyncio.to_thread(server.wait_for, lambda s: s.attempts == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert await asyncio.to_thread(server.wait_for, lambda s: s.connections_open == 0)
    _, body = await read(http1, target(server), WIRES[0])  # and the pool goes on
    assert json.loads(body) == REPLY


async def test_a_slow_reader_stops_the_socket_being_read(server: LoopbackServer) -> None:
    """Backpressure: past the high-water mark the connection stops reading until the body is taken."""
    piece = b"x" * 65536
    pieces = 64  # 4 MiB

    def big(exchange: Exchange) -> None:
        exchange.start(content_type="application/octet-stream")
        for _ in range(pieces):
            exchange.write(piece)
        exchange.end()

    server.script(big)
    pool = _http1.Pool()
    reply = await pool.request(b"GET", _origin(server), b"/v1/big", [(b"Host", b"h")], b"", _http1.Timeouts(read=5))
    connection = next(iter(pool._open))
    received = 0
    paused_seen = False
    async for chunk in reply.body():
        received += len(chunk)
        await asyncio.sleep(0.01)  # a slow consumer: the socket keeps filling the buffer meanwhile
        assert connection._buffered <= 2 * _http1._READ_HIGH_WATER  # the mark, and at most one socket read past it
        paused_seen = paused_seen or connection._reading_paused
    assert received == pieces * len(piece)
    assert paused_seen, "reading was never paused"
    await pool.aclose()


async def test_a_response_left_unread_while_reading_was_paused_leaves_a_usable_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole body arrived, reading was paused past the mark, the reader left: the pooled connection
    reads again (else the next request on it would wait for its read timeout). A 1 KiB mark and a 2 KiB
    body that arrives in one read make the state certain."""
    monkeypatch.setattr(_http1, "_READ_HIGH_WATER", 1024)
    server.script(raw_reply(b"y" * 2048, content_type="application/octet-stream"))
    pool = _http1.Pool()
    reply = await pool.request(b"GET", _origin(server), b"/v1/a", [(b"Host", b"h")], b"", _http1.Timeouts(read=2))
    connection = next(iter(pool._open))
    deadline = asyncio.get_running_loop().time() + 2
    while not connection.complete and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert connection.complete and connection._reading_paused
    await reply.aclose()  # without reading it
    second = await pool.request(b"GET", _origin(server), b"/v1/b", [(b"Host", b"h")], b"", _http1.Timeouts(read=2))
    assert json.loads(b"".join([chunk async for chunk in second.body()])) == REPLY
    assert [request.connection for request in server.requests] == [1, 1]
    await pool.aclose()


async def test_bytes_past_the_end_of_a_response_do_not_spoil_it(server: LoopbackServer, http1: AsyncHTTP) -> None:
    data = json.dumps(REPLY).encode()

    def reply_and_more(exchange: Exchange) -> None:
        exchange._handler.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%bGARBAGE"
            % (len(data), data)
        )
        exchange.pause(0.2)

    server.script(reply_and_more)
    _, body = await read(http1, target(server), WIRES[0])
    assert json.loads(body) == REPLY
    await read(http1, target(server), WIRES[0])
    assert [request.connection for request in server.requests] == [1, 2], "that connection was not reused"


async def test_a_pooled_connection_already_closing_is_not_handed_out(server: LoopbackServer) -> None:
    pool = _http1.Pool()
    for path in (b"/v1/a", b"/v1/b"):
        reply = await pool.request(b"GET", _origin(server), path, [(b"Host", b"h")], b"", _http1.Timeouts(read=2))
        assert b"".join([chunk async for chunk in reply.body()])
        for connection in pool._idle.get(_origin(server), []):
            assert connection.transport is not None
            connection.transport.close()  # closing, its loss not yet delivered
    assert [request.connection for request in server.requests] == [1, 2]
    await pool.aclose()


async def test_closing_the_pool_releases_every_waiting_request(server: LoopbackServer) -> None:
    def slow(exchange: Exchange) -> None:
        exchange.pause(1.0)

    server.default = slow
    pool = _http1.Pool(max_connections=1)
    head = [(b"Host", b"h")]
    holding = asyncio.ensure_future(pool.request(b"GET", _origin(server), b"/v1/a", head, b"", _http1.Timeouts()))
    await asyncio.sleep(0.1)
    waiting = [
        asyncio.ensure_future(pool.request(b"GET", _origin(server), b"/v1/b", head, b"", _http1.Timeouts()))
        for _ in range(2)
    ]
    await asyncio.sleep(0.05)
    await pool.aclose()
    for task in waiting:
        with pytest.raises(_http1.ConnectFailed, match="pool is closed"):
            await asyncio.wait_for(task, 0.5)
    with pytest.raises(_http1.ReadFailed):
        await asyncio.wait_for(holding, 0.5)


# ------------------------------------------------------------------------------------------------ 4. TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` and 127.0.0.1 (cryptography, from the server extra)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


async def test_https_with_a_trusted_certificate_and_not_without(certificate: tuple[Path, Path]) -> None:
    served = json.dumps(REPLY).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                % (len(served), served)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(*certificate)
    tls_server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_side)
    port = tls_server.sockets[0].getsockname()[1]
    where = Target("openai_compatible", f"https://localhost:{port}/v1", {}, None)
    trusting = AsyncHTTP(transport=HTTP1Transport(ssl.create_default_context(cafile=certificate[0])), timeout=5.0)
    default = AsyncHTTP(transport=HTTP1Transport(httpx.create_ssl_context()), timeout=5.0)
    try:
        _, body = await read(trusting, where, WIRES[0])
        assert json.loads(body) == REPLY
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await read(default, where, WIRES[0])
    finally:
        await trusting.close()
        await default.close()
        tls_server.close()
        await tls_server.wait_closed()


# --------------------------------------------------------------------- 5. the transport under httpx


async def test_under_httpx_the_errors_are_httpx_ones(server: LoopbackServer) -> None:
    """Used as any httpx transport: replies stream, HEAD goes to httpx's own transport, failures are httpx's."""
    transport = HTTP1Transport(None)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, read=0.2)) as client:
        reply = await client.post(server.url + "/responses", json=BODY)
        assert reply.json() == REPLY
        head = await client.head(server.url + "/responses")  # the stdlib server refuses HEAD: a 501 with no body
        assert (head.status_code, head.content) == (501, b"")

        def stall(exchange: Exchange) -> None:
            exchange.pause(2)

        server.script(stall)
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url + "/responses", json=BODY)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=HTTP1Transport(None)) as client:
            await client.get("http://127.0.0.1:9/")  # discard: nothing listens


def test_no_http1_transport_when_a_proxy_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's client honours HTTPS_PROXY and friends; the gateway keeps it then, rather than ignore them."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(fast_async_transport(), HTTP1Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert fast_async_transport() is None
