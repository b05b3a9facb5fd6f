"""``mcp-server-time`` (PyPI, the MCP project's reference time server) over the SDK's Streamable HTTP
transport on 127.0.0.1: ``python -m tests.mcp.time_server PORT``.

The package serves stdio only; its ``create_server`` builds the SDK ``MCPServer`` that ``serve()``
would run, and the SDK's own ``run_streamable_http_async`` puts it on HTTP. UTC is its local zone so
the tools' descriptions do not depend on the machine.
"""

from __future__ import annotations

import asyncio
import sys

from mcp_server_time.server import create_server  # type: ignore[import-untyped]


def main() -> None:
    port = int(sys.argv[1])
    server = create_server("UTC")
    asyncio.run(server.run_streamable_http_async(host="127.0.0.1", port=port))


if __name__ == "__main__":
    main()
