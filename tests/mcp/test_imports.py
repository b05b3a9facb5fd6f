"""The MCP SDK is an optional extra: never imported by ``import polyresponses`` or by a request without an
``mcp`` tool the router runs, and named when it is missing."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    return done.stdout


def test_the_sdk_is_imported_only_by_a_request_that_needs_it() -> None:
    out = _run(
        "import sys\n"
        "import polyresponses\n"
        "from polyresponses import Client\n"
        "c = Client('mistral', api_key='k', api_base='http://127.0.0.1:9/v1', store=False)\n"
        "c._plan_create('m', {'input': 'x', 'tools': [{'type': 'function', 'name': 'f'}]}, stream=False)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'httpx2')))\n"
    )
    assert out.strip() == "[]"


def test_a_missing_sdk_is_named_before_anything_is_sent() -> None:
    out = _run(
        "import sys\n"
        "sys.modules['mcp'] = None  # as if the [mcp] extra were not installed\n"
        "from polyresponses import Client\n"
        "c = Client('mistral', api_key='k', api_base='http://127.0.0.1:9/v1', store=False)\n"
        "tool = {'type': 'mcp', 'server_label': 'a', 'server_url': 'https://mcp.example.com/mcp'}\n"
        "try:\n"
        "    c.responses.create(model='m', input='x', tools=[tool])\n"
        "except ImportError as error:\n"
        "    print('refused:', error)\n"
    )
    assert out.startswith("refused:") and "pip install 'polyresponses[mcp]'" in out
