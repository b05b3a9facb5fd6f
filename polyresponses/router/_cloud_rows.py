"""The clouds' provider rows (issue 13): AWS Bedrock's surfaces, one row each, still rows of data.

A cloud row differs from a hosted one in two fields only: its base URL holds ``{region}`` (filled from
the environment when the client is made) and, for AWS, ``aws_signing_name`` says which SigV4 service
signs its requests when no bearer key is given (``polyresponses.auth``). Which surface serves which
model family is in each row's ``notes``; facts seen in recorded traffic are ``facts="recorded"``.
"""

from __future__ import annotations

from polyresponses.router._provider_model import FUNCTIONS, Capabilities, Provider

__all__ = ["CLOUD_ROWS"]

_BEDROCK_KEY = "AWS_BEARER_TOKEN_BEDROCK"
"""The Bedrock API key (Bedrock user guide, "API keys"), sent as a bearer token on every surface."""

CLOUD_ROWS: tuple[Provider, ...] = (
    Provider(
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        dialect="bedrock_converse",
        api_key_env=_BEDROCK_KEY,
        key_required=False,
        aws_signing_name="bedrock",
        capabilities=Capabilities(tools=FUNCTIONS),
        docs="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
        facts="recorded",
        notes=(
            "Converse/ConverseStream: every Bedrock model (Nova, Claude, Llama, Mistral, gpt-oss, ...), model"
            " ids, inference-profile ids and ARNs; bearer AWS_BEARER_TOKEN_BEDROCK, else SigV4 'bedrock' with the"
            " environment's AWS credentials (the full chain with polyresponses[aws]); recorded: text, tools,"
            " thinking with signatures and redacted thinking, structured output, documents, images, cache"
            " points, errors, streams; reasoning replays only to the same provider and model"
        ),
    ),
)
"""Merged into ``PROVIDERS`` after the hosted rows."""
