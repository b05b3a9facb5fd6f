"""input_tokens over Anthropic's and Gemini's own counting routes: the create request's content, counted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from polyresponses import APIResponseValidationError, AsyncClient, Client, UnsupportedFeatureError

TOOL = {
    "type": "function",
    "name": "f",
    "description": "d",
    "parameters": {"type": "object", "properties": {}},
    "strict": False,
}


def _counting(reply: dict[str, Any], sent: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=reply)

    return httpx.MockTransport(handler)


def test_anthropic_counts_what_create_would_send() -> None:
    params: dict[str, Any] = {"model": "claude-sonnet-4-5", "input": "Hi", "instructions": "Be brief.", "tools": [TOOL]}
    sent: list[httpx.Request] = []
    with Client("anthropic", api_key="sk-ant", transport=_counting({"input_tokens": 42}, sent)) as client:
        counted = client.responses.input_tokens.count(**params)
        with pytest.raises(APIResponseValidationError):  # the counting reply is no message: only the request matters
            client.responses.create(**params)
    assert counted.input_tokens == 42 and counted.object == "response.input_tokens"
    count_request, create_request = sent
    assert count_request.url.path == "/v1/messages/count_tokens" and count_request.headers["x-api-key"] == "sk-ant"
    created = json.loads(create_request.content)
    assert json.loads(count_request.content) == {k: created[k] for k in ("model", "messages", "system", "tools")}
    assert "max_tokens" in created  # count_tokens takes no max_tokens


@pytest.mark.anyio
async def test_gemini_counts_the_whole_generate_content_request() -> None:
    sent: list[httpx.Request] = []
    client = AsyncClient("gemini", api_key="gm-key", transport=_counting({"totalTokens": 7}, sent))
    counted = await client.responses.input_tokens.count(model="gemini-2.5-flash", input="Hi", instructions="Be brief.")
    await client.close()
    assert counted.input_tokens == 7
    (request,) = sent
    assert request.url.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert json.loads(request.content) == {
        "generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
        }
    }


def test_a_reply_without_the_count_is_a_clear_error() -> None:
    with (
        Client("anthropic", api_key="sk-ant", transport=_counting({"tokens": 1}, [])) as client,
        pytest.raises(APIResponseValidationError, match="no integer 'input_tokens'"),
    ):
        client.responses.input_tokens.count(model="claude", input="Hi")


def test_chat_providers_have_no_counting_route() -> None:
    with (
        Client("mistral", api_key="k", dialect="chat_completions") as client,
        pytest.raises(UnsupportedFeatureError, match="input_tokens"),
    ):
        client.responses.input_tokens.count(model="m", input="Hi")


def test_the_model_cannot_leave_its_path_segment() -> None:
    sent: list[httpx.Request] = []
    with Client("gemini", api_key="gm-key", transport=_counting({"totalTokens": 1}, sent)) as client:
        client.responses.input_tokens.count(model="../batches/b123:cancel#", input="Hi")
        client.responses.input_tokens.count(model="x?alt=json&foo=bar#", input="Hi")
    assert [request.url.raw_path for request in sent] == [
        b"/v1beta/models/..%2Fbatches%2Fb123%3Acancel%23:countTokens",
        b"/v1beta/models/x%3Falt%3Djson%26foo%3Dbar%23:countTokens",
    ]
