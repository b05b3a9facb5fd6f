"""The MCP tests' fixtures: the reference MCP server (:mod:`tests._mcp_servers`)."""

from __future__ import annotations

from tests._mcp_servers import everything, everything_process, everything_sse, time_server

__all__ = ["everything", "everything_process", "everything_sse", "time_server"]
