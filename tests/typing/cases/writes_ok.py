"""User code that must type-check under mypy --strict and pyright strict: what the README shows."""

from __future__ import annotations

from typing import assert_type

from pydantic import BaseModel

import polyresponses
from polyresponses import Client
from polyresponses.types import FunctionTool, Response
from polyresponses.types.params import EasyInputMessageParam, FunctionToolParam, MCPToolParam


class City(BaseModel):
    name: str
    population: int


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: Its name.
    """
    return f"sunny in {city}"


def calls(client: Client) -> None:
    message: EasyInputMessageParam = {"role": "user", "content": "Hi"}
    tool: FunctionToolParam = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    mcp: MCPToolParam = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://mcp.example.com/mcp",
        "allowed_tools": {"read_only": True},
        "require_approval": "never",
    }
    response = client.responses.create(
        model="m",
        input=[message, {"type": "function_call_output", "call_id": "c", "output": "42"}],
        tools=[tool, mcp, get_weather, FunctionTool(type="function", name="g", parameters=None, strict=None)],
        tool_choice={"type": "function", "name": "f"},
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "city", "schema": {"type": "object"}, "strict": True}},
        include=["reasoning.encrypted_content"],
        truncation="auto",
        max_output_tokens=64,
    )
    assert_type(response, Response)
    assert_type(response.output_text, str)
    parsed = client.responses.parse(model="m", input="The capital of France?", text_format=City)
    city = parsed.output_parsed
    assert city is None or isinstance(city.population, int)
    with client.responses.stream(model="m", input="Hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                assert_type(event.delta, str)
    again = polyresponses.responses("groq:openai/gpt-oss-120b", "Name three primes.", reasoning={"effort": "low"})
    assert_type(again, Response)
