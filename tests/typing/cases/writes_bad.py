"""User code that must NOT type-check: each line marked ``# error`` is a mistake a type checker catches."""

from __future__ import annotations

from polyresponses import Client


def mistakes(client: Client) -> None:
    client.responses.create(model="m", input=[{"role": "usr", "content": "x"}])  # error
    client.responses.create(model="m", input="x", tools=[{"type": "function"}])  # error
    client.responses.create(model="m", input="x", reasoning={"efort": "high"})  # error
    client.responses.create(model="m", input="x", tool_choice="sometimes")  # error
    client.responses.create(model="m", input="x", include=["reasoning.encrypted"])  # error
    client.responses.create(model="m", input="x", truncation="sometimes")  # error
    client.responses.create(model="m", input=[{"type": "function_call", "name": "f"}])  # error
    client.responses.create(model="m", input="x", text={"format": {"type": "json"}})  # error
    client.responses.create(model="m", input="x", temprature=0.5)  # error
    len(client.responses.create(model="m", input="x").output_text.upper())
