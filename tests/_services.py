"""Local servers the end-to-end and contract lanes talk to, started by ``scripts/test.sh``.

``POLYRESPONSES_LLAMACPP_URL`` (llama.cpp's ``llama-server`` with SmolLM2, ``scripts/local-model``)
and ``POLYRESPONSES_PRISM_URL`` (Stoplight Prism on the vendored OpenAI spec, ``scripts/prism``).
Outside CI a lane whose server is not running is skipped, saying how to start it; in CI
(``CI=true``) it fails instead, so a lane can never silently stop running.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["service_url"]


def service_url(variable: str, what: str) -> str:
    """The base URL in ``variable``; skip (locally) or fail (in CI) when it is unset."""
    url = os.environ.get(variable, "").rstrip("/")
    if url:
        return url
    message = f"{what} is not running: {variable} is unset (scripts/test.sh starts it and sets it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
