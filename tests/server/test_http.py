"""openai-python against the running gateway: every HTTP route, streams read as raw bytes too."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from polyresponses.testing import check_stream
from tests._loopback import LoopbackServer, json_reply
from tests._recorded import sse_data
from tests.server._running import RunningGateway
from tests.server._scripted import ScriptedChat
from tests.server.conftest import ALICE, UPSTREAM_KEY

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _raw_stream(gateway: RunningGateway, body: dict[str, Any], key: str = ALICE) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/responses",
        json={**body, "stream": True},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(data) for data in sse_data(raw)]


def test_create_retrieve_chain_input_items_delete(alice: openai.OpenAI, upstream: LoopbackServer) -> None:
    first = alice.responses.create(model="mistral:small", input="hi")
    assert first.status == "completed" and first.output_text == "echo: hi"
    assert first.id.startswith("resp_") and len(first.id) == 37  # the gateway's own id, not the provider's
    assert alice.responses.retrieve(first.id).output_text == "echo: hi"

    second = alice.responses.create(model="mistral:small", input="again", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert upstream.requests[-1].json()["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "echo: hi"},
        {"role": "user", "content": "again"},
    ]
    listed = alice.responses.input_items.list(second.id, order="asc")
    assert [item.type for item in listed.data] == ["message", "message", "message"]

    alice.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        alice.responses.retrieve(first.id)


def test_every_stream_is_spec_sse(gateway: RunningGateway) -> None:
    """``event:`` equals ``type``, ``data: [DONE]`` last, no ``id:`` lines; the events pass the checker."""
    for body in (
        {"model": "mistral:small", "input": "one two three"},
        {"model": "mistral:small", "input": "weather?", "tools": [WEATHER_TOOL]},
    ):
        reply = _raw_stream(gateway, body)
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        blocks = [block for block in reply.text.split("\n\n") if block]
        assert blocks[-1] == "data: [DONE]"
        for block in blocks[:-1]:
            event_line, data_line = block.split("\n")
            assert event_line == f"event: {json.loads(data_line.removeprefix('data: '))['type']}"
        events = _events(reply.text)
        assert check_stream(events) == []
        assert [event["sequence_number"] for event in events] == list(range(len(events)))


def test_stream_through_openai_python(alice: openai.OpenAI) -> None:
    with alice.responses.stream(model="mistral:small", input="stream me") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "echo: stream me" == final.output_text
    assert alice.responses.retrieve(final.id).output_text == "echo: stream me"


def test_tool_call_round_trip(alice: openai.OpenAI, upstream: LoopbackServer) -> None:
    called = alice.responses.create(model="mistral:small", input="weather in Paris?", tools=[WEATHER_TOOL])  # type: ignore[list-item]
    call = called.output[0]
    assert (
        call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    )
    answered = alice.responses.create(
        model="mistral:small",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert answered.output_text == "echo: sunny"
    sent = upstream.requests[-1].json()["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call.call_id and sent[-1] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": "sunny",
    }


def test_conversations(alice: openai.OpenAI, upstream: LoopbackServer) -> None:
    conversation = alice.conversations.create(
        items=[{"type": "message", "role": "user", "content": "remember 7"}], metadata={"k": "v"}
    )
    assert alice.conversations.retrieve(conversation.id).metadata == {"k": "v"}
    alice.responses.create(model="mistral:small", input="what number?", conversation=conversation.id)
    assert upstream.requests[-1].json()["messages"][0] == {"role": "user", "content": "remember 7"}
    items = alice.conversations.items.list(conversation.id, order="asc")
    assert [item.type for item in items.data] == ["message", "message", "message"]
    added = alice.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "x"}]
    )
    item_id = added.data[0].id
    assert item_id is not None
    assert alice.conversations.items.retrieve(item_id, conversation_id=conversation.id).id == item_id
    alice.conversations.items.delete(item_id, conversation_id=conversation.id)
    assert alice.conversations.update(conversation.id, metadata={"k": "w"}).metadata == {"k": "w"}
    assert alice.conversations.delete(conversation.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        alice.conversations.retrieve(conversation.id)


def test_errors_have_the_spec_shape(gateway: RunningGateway) -> None:
    headers = {"Authorization": f"Bearer {ALICE}"}
    cases: list[tuple[httpx.Response, int, str | None]] = [
        (httpx.post(f"{gateway.url}/responses", content=b"{not json", headers=headers), 400, "invalid_json"),
        (httpx.post(f"{gateway.url}/responses", json=[1], headers=headers), 400, "invalid_json"),
        (
            httpx.post(
                f"{gateway.url}/responses",
                json={"model": "mistral:m", "input": "x", "temperature": "hot"},
                headers=headers,
            ),
            400,
            "invalid_value",
        ),
        (
            httpx.post(f"{gateway.url}/responses", json={"model": "nope:m", "input": "x"}, headers=headers),
            404,
            "model_not_found",
        ),
        (
            httpx.post(
                f"{gateway.url}/responses",
                json={"model": "mistral:m", "input": "x", "background": "yes"},
                headers=headers,
            ),
            400,
            "invalid_type",
        ),
        (httpx.get(f"{gateway.url}/nowhere", headers=headers), 404, "unknown_route"),
        (httpx.put(f"{gateway.url}/responses", headers=headers), 405, "method_not_allowed"),
        (httpx.get(f"{gateway.url}/responses/resp_missing", headers=headers), 404, "not_found"),
        (httpx.post(f"{gateway.url}/responses", json={"model": "mistral:m", "input": "x"}), 401, "invalid_api_key"),
        (
            httpx.post(
                f"{gateway.url}/responses",
                json={"model": "mistral:m", "input": "x"},
                headers={"Authorization": "Bearer wrong"},
            ),
            401,
            "invalid_api_key",
        ),
    ]
    for reply, status, code in cases:
        assert reply.status_code == status, reply.text
        error = reply.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["code"] == code, error
    temperature = cases[2][0].json()["error"]
    assert temperature["param"] == "temperature" and temperature["type"] == "invalid_request"


def test_body_limit_is_413_before_reading_it_all(upstream: LoopbackServer) -> None:
    from tests.server.conftest import gateway_config

    with RunningGateway(gateway_config(upstream.url, max_body_bytes=1000), {"MISTRAL_API_KEY": "k"}) as gateway:
        headers = {"Authorization": f"Bearer {ALICE}"}
        big = {"model": "mistral:m", "input": "x" * 2000}
        reply = httpx.post(f"{gateway.url}/responses", json=big, headers=headers)
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "request_too_large"

        def chunks() -> Any:  # no Content-Length: counted while read
            yield b'{"model": "mistral:m", "input": "'
            for _ in range(20):
                yield b"y" * 100
            yield b'"}'

        chunked = httpx.post(f"{gateway.url}/responses", content=chunks(), headers=headers)
        assert chunked.status_code == 413
        assert upstream.attempts == 0


def test_upstream_errors_keep_their_status_and_never_the_key(
    gateway: RunningGateway, alice: openai.OpenAI, upstream: LoopbackServer
) -> None:
    upstream.script(
        json_reply(
            {"error": {"message": f"slow down {UPSTREAM_KEY}", "code": "rate_limit"}},
            status=429,
            headers={"Retry-After": "7"},
        ),
    )
    reply = httpx.post(
        f"{gateway.url}/responses",
        json={"model": "mistral:m", "input": "x"},
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert reply.status_code == 429 and reply.headers["retry-after"] == "7"
    assert reply.json()["error"]["type"] == "too_many_requests" and UPSTREAM_KEY not in reply.text
    upstream.script(*[json_reply({"error": {"message": f"bad {UPSTREAM_KEY}"}}, status=400)])
    with pytest.raises(openai.BadRequestError) as caught:
        alice.responses.create(model="mistral:m", input="x")
    assert UPSTREAM_KEY not in caught.value.response.text and "bad" in caught.value.response.text


def test_rate_limit_per_key(upstream: LoopbackServer) -> None:
    from tests.server.conftest import BOB, gateway_config

    with RunningGateway(gateway_config(upstream.url, requests_per_minute=2), {"MISTRAL_API_KEY": "k"}) as gateway:

        def ask(key: str) -> httpx.Response:
            return httpx.post(
                f"{gateway.url}/responses",
                json={"model": "mistral:m", "input": "x"},
                headers={"Authorization": f"Bearer {key}"},
            )

        assert [ask(ALICE).status_code for _ in range(3)] == [200, 200, 429]
        limited = ask(ALICE)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["type"] == "too_many_requests"
        assert ask(BOB).status_code == 200  # counted per key


def test_models_health_ready_metrics(gateway: RunningGateway, alice: openai.OpenAI) -> None:
    alice.responses.create(model="mistral:small", input="count me")
    ids = [model.id for model in alice.models.list().data]
    assert "mistral:*" in ids and "anthropic:*" in ids
    assert httpx.get(f"{gateway.base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gateway.base}/readyz").json() == {"status": "ready"}
    assert httpx.get(f"{gateway.base}/metrics").status_code == 401  # metrics name models: keys only
    text = httpx.get(f"{gateway.base}/metrics", headers={"Authorization": f"Bearer {ALICE}"}).text
    assert (
        'polyresponses_requests_total{route="responses",provider="mistral",model="mistral:small",status="200"} 1'
        in text
    )
    assert 'polyresponses_tokens_total{provider="mistral",model="mistral:small",direction="in"} 7' in text
    assert "polyresponses_in_flight_streams 0" in text
    assert UPSTREAM_KEY not in text and ALICE not in text and "count me" not in text


def test_aliases_with_defaults_and_key_model_limits(upstream: LoopbackServer) -> None:
    from polyresponses.server._config import Alias, GatewayKey, key_digest
    from tests.server.conftest import gateway_config

    config = gateway_config(
        upstream.url,
        aliases={"fast": Alias("mistral:mistral-small", {"temperature": 0.2, "max_output_tokens": 64})},
        keys=(GatewayKey("alice", key_digest(ALICE), ("fast",)),),
    )
    with (
        RunningGateway(config, {"MISTRAL_API_KEY": "k"}) as gateway,
        openai.OpenAI(base_url=gateway.url, api_key=ALICE, max_retries=0) as client,
    ):
        client.responses.create(model="fast", input="x", temperature=0.5)
        sent = upstream.requests[-1].json()
        assert sent["model"] == "mistral-small" and sent["temperature"] == 0.5 and sent["max_tokens"] == 64
        with pytest.raises(openai.NotFoundError) as caught:
            client.responses.create(model="mistral:mistral-small", input="x")
        assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
        assert [model.id for model in client.models.list().data] == ["fast"]


def test_client_cannot_choose_the_upstream_or_transport(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    headers = {"Authorization": f"Bearer {ALICE}"}
    for field, value in (
        ("api_base", "http://169.254.169.254/v1"),
        ("base_url", "http://127.0.0.1:1/v1"),
        ("api_key", "sk-mine"),
        ("extra_headers", {"x": "y"}),
        ("timeout", 1),
        ("dialect", "chat_completions"),
    ):
        reply = httpx.post(
            f"{gateway.url}/responses", json={"model": "mistral:m", "input": "x", field: value}, headers=headers
        )
        assert reply.status_code == 400 and reply.json()["error"] == {
            "message": reply.json()["error"]["message"],
            "type": "invalid_request",
            "param": field,
            "code": "forbidden_parameter",
        }
    assert upstream.attempts == 0


def test_allowed_base_url_hosts(upstream: LoopbackServer) -> None:
    from tests.server.conftest import gateway_config

    with RunningGateway(
        gateway_config("http://127.0.0.2:9/v1", allowed_base_url_hosts=("127.0.0.1",)), {"MISTRAL_API_KEY": "k"}
    ) as gateway:
        reply = httpx.post(
            f"{gateway.url}/responses",
            json={"model": "mistral:m", "input": "hi", "api_base": upstream.url},
            headers={"Authorization": f"Bearer {ALICE}"},
        )
        assert reply.status_code == 200 and reply.json()["output"][0]["content"][0]["text"] == "echo: hi"


def test_unconfigured_provider_is_a_clear_400(gateway: RunningGateway) -> None:
    reply = httpx.post(
        f"{gateway.url}/responses",
        json={"model": "anthropic:claude", "input": "x"},
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert reply.status_code == 400
    assert (
        reply.json()["error"]["code"] == "provider_not_configured" and "anthropic" in reply.json()["error"]["message"]
    )


def test_stream_error_mid_stream_is_error_then_failed(gateway: RunningGateway, upstream: LoopbackServer) -> None:
    from tests._loopback import sse_reply

    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    upstream.script(
        sse_reply(
            [
                {**chunk, "type": "x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"}}]},
                {**chunk, "type": "x", "choices": [{"index": 0, "delta": {"content": "tial"}}]},
            ],
            then="drop",
        )
    )
    reply = _raw_stream(gateway, {"model": "mistral:m", "input": "x"})
    events = _events(reply.text)
    assert [event["type"] for event in events][-2:] == ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed" and events[-1]["response"]["error"]["code"] == "server_error"
    assert reply.text.endswith("data: [DONE]\n\n")
    sequence = [event["sequence_number"] for event in events]
    assert sequence == list(range(len(events)))


def test_input_tokens_and_unsupported(alice: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        alice.responses.input_tokens.count(model="mistral:m", input="count")
    assert caught.value.body["code"] == "unsupported_feature"  # type: ignore[index]


def test_scripted_upstream_sees_the_provider_key_only_there(alice: openai.OpenAI, upstream: LoopbackServer) -> None:
    alice.responses.create(model="mistral:m", input="x")
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert ALICE not in str(upstream.requests[-1].headers)


def test_scripted_chat_is_deterministic() -> None:
    assert ScriptedChat()._text({"content": "a"}) == "echo: a"


def test_hosted_tools_refused_or_left_out_with_notice(
    upstream: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.server.conftest import gateway_config

    body = {"model": "mistral:m", "input": "x", "tools": [{"type": "web_search"}, WEATHER_TOOL]}
    headers = {"Authorization": f"Bearer {ALICE}"}
    with RunningGateway(gateway_config(upstream.url), {"MISTRAL_API_KEY": "k"}) as gateway:
        refused = httpx.post(f"{gateway.url}/responses", json=body, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "unsupported_feature"
        assert "web_search" in refused.json()["error"]["message"]
    config = gateway_config(upstream.url, drop_unsupported_hosted_tools=True)
    with RunningGateway(config, {"MISTRAL_API_KEY": "k"}) as gateway:
        for stream in (False, True):
            kept = httpx.post(f"{gateway.url}/responses", json={**body, "stream": stream}, headers=headers)
            assert kept.status_code == 200 and kept.headers["x-polyresponses-dropped-tools"] == "web_search"
            assert [tool["function"]["name"] for tool in upstream.requests[-1].json()["tools"]] == ["get_weather"]
        preview = {"type": "web_search_preview"}
        forced = httpx.post(
            f"{gateway.url}/responses", json={**body, "tools": [preview], "tool_choice": preview}, headers=headers
        )
        assert forced.status_code == 400 and "web_search_preview" in forced.json()["error"]["message"]
    assert "left out hosted tool(s) web_search: provider 'mistral' cannot run them" in caplog.text


def test_namespace_tools_through_the_gateway(alice: openai.OpenAI, upstream: LoopbackServer) -> None:
    namespace = {"type": "namespace", "name": "crm", "description": "Customer records.", "tools": [WEATHER_TOOL]}
    called = alice.responses.create(model="mistral:m", input="x", tools=[namespace])  # type: ignore[list-item]
    assert upstream.requests[-1].json()["tools"][0]["function"]["name"] == "crm__get_weather"
    call = called.output[0].model_dump()
    assert (call["type"], call["namespace"], call["name"]) == ("function_call", "crm", "get_weather")
    answered = alice.responses.create(
        model="mistral:m",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}],
        tools=[namespace],  # type: ignore[list-item]
    )
    assert answered.output_text == "echo: sunny"
    assert upstream.requests[-1].json()["messages"][1]["tool_calls"][0]["function"]["name"] == "crm__get_weather"
