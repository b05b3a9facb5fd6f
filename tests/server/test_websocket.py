"""The WebSocket mode driven by a real WebSocket client (``websockets``), over a stateless provider."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from polyresponses.testing import check_stream
from tests._loopback import LoopbackServer
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, gateway_config
from tests.server.test_http import WEATHER_TOOL


def _socket(gateway: RunningGateway, key: str = ALICE) -> ClientConnection:
    return connect(
        gateway.url.replace("http://", "ws://") + "/responses", additional_headers={"Authorization": f"Bearer {key}"}
    )


def _turn(socket: ClientConnection, **body: Any) -> list[dict[str, Any]]:
    """Send one ``response.create`` and read frames up to its terminal event (or its error frame)."""
    socket.send(json.dumps({"type": "response.create", **body}))
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(socket.recv(timeout=20))
        frames.append(frame)
        if frame["type"] in ("response.completed", "response.incomplete", "response.failed") or (
            frame["type"] == "error" and "status" in frame
        ):
            return frames


def test_store_false_chain_with_tool_calls_from_connection_memory(
    gateway: RunningGateway, upstream: LoopbackServer
) -> None:
    with _socket(gateway) as socket:
        first = _turn(socket, model="mistral:m", input="weather in Paris?", tools=[WEATHER_TOOL], store=False)
        assert check_stream(first) == []
        call = next(frame["item"] for frame in first if frame["type"] == "response.output_item.done")
        assert call["type"] == "function_call"
        first_id = first[-1]["response"]["id"]
        second = _turn(
            socket,
            model="mistral:m",
            previous_response_id=first_id,
            input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}],
            tools=[WEATHER_TOOL],
            store=False,
        )
        assert check_stream(second) == []
        assert second[-1]["response"]["output"][0]["content"][0]["text"] == "echo: sunny"
        assert second[-1]["response"]["previous_response_id"] == first_id
        sent = upstream.requests[-1].json()["messages"]
        assert [message["role"] for message in sent] == ["user", "assistant", "tool"]
        # nothing was stored: another connection cannot continue it
    with _socket(gateway) as other:
        frames = _turn(other, model="mistral:m", input="x", previous_response_id=first_id)
        assert frames == [
            {
                "type": "error",
                "status": 404,
                "error": {
                    "message": f"previous response {first_id!r} is not in this connection's memory nor in the store",
                    "type": "not_found",
                    "param": "previous_response_id",
                    "code": "previous_response_not_found",
                },
            }
        ]


def test_stored_response_hydrates_on_a_new_connection(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    with _socket(gateway) as socket:
        first = _turn(socket, model="mistral:m", input="remember 7")
    with _socket(gateway) as socket:
        second = _turn(socket, model="mistral:m", input="which?", previous_response_id=first[-1]["response"]["id"])
    assert second[-1]["type"] == "response.completed"
    assert [message["content"] for message in upstream.requests[-1].json()["messages"]] == [
        "remember 7",
        "echo: remember 7",
        "which?",
    ]


def test_call_output_without_its_call_is_refused_before_the_provider(
    gateway: RunningGateway, upstream: LoopbackServer
) -> None:
    with _socket(gateway) as socket:
        frames = _turn(
            socket, model="mistral:m", input=[{"type": "function_call_output", "call_id": "call_x", "output": "1"}]
        )
    assert frames[0]["status"] == 400 and frames[0]["error"]["param"] == "input[0].call_id"
    assert "call_x" in frames[0]["error"]["message"] and upstream.attempts == 0


def test_failed_continuation_evicts_the_id(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    from tests._loopback import json_reply

    with _socket(gateway) as socket:
        first = _turn(socket, model="mistral:m", input="a", store=False)
        ident = first[-1]["response"]["id"]
        upstream.script(json_reply({"error": {"message": "overloaded"}}, status=503))
        failed = _turn(socket, model="mistral:m", input="b", previous_response_id=ident, store=False)
        assert failed[-1]["type"] == "error" and failed[-1]["status"] == 502
        again = _turn(socket, model="mistral:m", input="c", previous_response_id=ident, store=False)
        assert again[-1]["error"]["code"] == "previous_response_not_found"


def test_bad_frames_get_error_frames_and_the_connection_stays(gateway: RunningGateway) -> None:
    with _socket(gateway) as socket:
        socket.send("{nope")
        assert json.loads(socket.recv(timeout=5))["error"]["code"] == "invalid_json"
        socket.send(json.dumps({"type": "response.cancel"}))
        assert json.loads(socket.recv(timeout=5))["error"]["param"] == "type"
        socket.send(json.dumps({"type": "response.create", "model": "mistral:m", "input": "x", "background": True}))
        assert json.loads(socket.recv(timeout=5))["error"]["param"] == "background"
        assert _turn(socket, model="mistral:m", input="still here")[-1]["type"] == "response.completed"


def test_refused_without_a_key(gateway: RunningGateway) -> None:
    with pytest.raises(InvalidStatus) as caught, _socket(gateway, key="wrong"):
        pass
    assert caught.value.response.status_code == 403


def test_connection_cap(upstream: LoopbackServer) -> None:
    with (
        RunningGateway(gateway_config(upstream.url, ws_max_seconds=1.0), {"MISTRAL_API_KEY": "k"}) as gateway,
        _socket(gateway) as socket,
    ):
        started = time.monotonic()
        frame = json.loads(socket.recv(timeout=5))
        assert frame["error"]["code"] == "websocket_connection_limit_reached" and 0.9 < time.monotonic() - started < 3
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)


def test_frame_size_limit(upstream: LoopbackServer) -> None:
    with (
        RunningGateway(gateway_config(upstream.url, max_ws_frame_bytes=4096), {"MISTRAL_API_KEY": "k"}) as gateway,
        _socket(gateway) as socket,
    ):
        socket.send(json.dumps({"type": "response.create", "model": "mistral:m", "input": "x" * 10_000}))
        with pytest.raises(ConnectionClosed) as caught:
            socket.recv(timeout=5)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009  # uvicorn's message-too-big close


def test_generate_false_warms_up_without_the_provider(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    with _socket(gateway) as socket:
        warm = _turn(socket, model="mistral:m", input="context to keep", store=False, generate=False)
        assert [frame["type"] for frame in warm] == ["response.created", "response.in_progress", "response.completed"]
        assert check_stream(warm) == [] and warm[-1]["response"]["output"] == []
        assert upstream.attempts == 0
        turn = _turn(
            socket, model="mistral:m", input="and now", previous_response_id=warm[-1]["response"]["id"], store=False
        )
    assert turn[-1]["type"] == "response.completed"
    assert [m["content"] for m in upstream.requests[-1].json()["messages"]] == ["context to keep", "and now"]


def test_stored_chain_over_one_connection_keeps_its_links(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    with _socket(gateway) as socket:
        first = _turn(socket, model="mistral:m", input="one")[-1]["response"]
        second = _turn(socket, model="mistral:m", input="two", previous_response_id=first["id"])[-1]["response"]
        refused = _turn(socket, model="mistral:m", input="x", previous_response_id=second["id"], conversation="conv_x")[
            -1
        ]
    assert second["previous_response_id"] == first["id"]
    assert alice.responses.retrieve(second["id"]).previous_response_id == first["id"]  # the stored record too
    assert [item.type for item in alice.responses.input_items.list(second["id"]).data] == ["message"] * 3
    assert refused["status"] in (400, 404)  # a conversation with a previous response is never combined
