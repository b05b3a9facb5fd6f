"""The console's HTML: one layout, and the items of a response rendered for people. Everything escaped.

Model output is untrusted: every string that reaches a page goes through :func:`e` (``html.escape``
with quotes), and the pages carry no inline script or style, so the Content-Security-Policy
(``script-src 'self'``) lets nothing a reply contains run. There is no template engine: the pages are
small, and f-strings over escaped values keep the escaping visible at every use.
"""

from __future__ import annotations

import contextlib
import html
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

__all__ = ["e", "items", "layout", "table", "when"]

NAV = (("Responses", "/console"), ("Playground", "/console/playground"), ("Providers", "/console/providers"))
NAV_TAIL = (("Metrics", "/console/metrics"),)


def e(value: object) -> str:
    """``value`` as HTML text: escaped, quotes included (safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def when(seconds: object) -> str:
    """A unix time as UTC, for people."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    try:  # the upstream chose it: anything out of range shows as nothing, never as an error page
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return ""


def layout(title: str, body: str, *, owner: str | None, current: str, scripts: Sequence[str] = ()) -> str:
    """A whole page: the navigation, ``body`` (already HTML), the stylesheet, and only our own scripts."""
    links = ""
    for label, href in (*NAV, *NAV_TAIL):
        mark = ' aria-current="page"' if href == current else ""
        links += f'<a href="{href}"{mark}>{e(label)}</a>'
    who = ""
    if owner is not None:
        who = (
            f'<form method="post" action="/console/logout" class="who"><span>{e(owner)}</span>'
            '<button type="submit">Sign out</button></form>'
        )
    tags = "".join(f'<script src="/console/static/{e(name)}" defer></script>' for name in scripts)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · polyresponses</title>"
        '<link rel="stylesheet" href="/console/static/console.css">'
        f"{tags}</head><body>"
        '<header><a class="brand" href="/console">polyresponses</a>'
        f'<nav aria-label="Console">{links}</nav>{who}</header>'
        f'<main id="main"><h1>{e(title)}</h1>{body}</main></body></html>'
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, caption: str = "", empty: str = "Nothing yet."
) -> str:
    """A table; the cells are HTML already (escape what goes into them)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f'<th scope="col">{e(name)}</th>' for name in headers)
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def items(values: Sequence[Mapping[str, Any]]) -> str:
    """Input or output items, each as people read it; unknown kinds as their JSON."""
    return "".join(f'<article class="item item-{e(_kind(item))}">{_item(item)}</article>' for item in values)


def _kind(item: Mapping[str, Any]) -> str:
    return str(item.get("type") or ("message" if "role" in item else "item"))


def _item(item: Mapping[str, Any]) -> str:
    kind = _kind(item)
    match kind:
        case "message":
            return f"<h3>{e(item.get('role', 'message'))}</h3>{_content(item.get('content'))}"
        case "reasoning":
            parts = cast("list[Mapping[str, Any]]", item.get("content") or item.get("summary") or [])
            text = "\n\n".join(str(part.get("text", "")) for part in parts)
            return f'<h3>reasoning</h3><pre class="text">{e(text) or "<em>(encrypted)</em>"}</pre>'
        case "function_call" | "custom_tool_call":
            name = item.get("name")
            if item.get("namespace"):
                name = f"{item['namespace']}.{name}"
            arguments = _code(item.get("arguments", item.get("input")))
            return f"<h3>call {e(name)} <code>{e(item.get('call_id'))}</code></h3>{arguments}"
        case "function_call_output" | "custom_tool_call_output":
            return f"<h3>output of <code>{e(item.get('call_id'))}</code></h3>{_code(item.get('output'))}"
        case "mcp_list_tools":
            tools = cast("list[Mapping[str, Any]]", item.get("tools") or [])
            names = ", ".join(str(tool.get("name")) for tool in tools)
            error = f'<p class="error">{e(item["error"])}</p>' if item.get("error") else ""
            return f"<h3>MCP tools of {e(item.get('server_label'))}</h3><p>{e(names) or '<em>none</em>'}</p>{error}"
        case "mcp_call":
            error = f'<p class="error">{e(json.dumps(item["error"]))}</p>' if item.get("error") else ""
            return (
                f"<h3>MCP call {e(item.get('server_label'))}.{e(item.get('name'))} "
                f'<span class="status">{e(item.get("status"))}</span></h3>'
                f"{_code(item.get('arguments'))}{_code(item.get('output')) if item.get('output') else ''}{error}"
            )
        case "mcp_approval_request":
            return (
                f"<h3>approval asked for {e(item.get('server_label'))}.{e(item.get('name'))} "
                f"<code>{e(item.get('id'))}</code></h3>{_code(item.get('arguments'))}"
            )
        case "mcp_approval_response":
            verdict = "approved" if item.get("approve") else "denied"
            return f"<h3>{verdict} <code>{e(item.get('approval_request_id'))}</code></h3>"
        case _:
            return f"<h3>{e(kind)}</h3>{_code(json.dumps(item, indent=2, ensure_ascii=False))}"


def _content(content: Any) -> str:
    if isinstance(content, str):
        return f'<pre class="text">{e(content)}</pre>'
    out = []
    for part in cast("list[Mapping[str, Any]]", content or []):
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            out.append(f'<pre class="text">{e(part.get("text", ""))}</pre>')
        elif kind == "refusal":
            out.append(f'<p class="error">refused: {e(part.get("refusal"))}</p>')
        elif kind == "input_image":
            out.append(f'<p class="muted">[image {e(part.get("file_id") or "")}]</p>')
        elif kind == "input_file":
            out.append(f'<p class="muted">[file {e(part.get("filename") or part.get("file_id") or "")}]</p>')
        else:
            out.append(_code(json.dumps(part, ensure_ascii=False)))
    return "".join(out)


def _code(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # JSON arguments and outputs read better indented
            text = json.dumps(json.loads(value), ensure_ascii=False, indent=2)
    return f"<pre><code>{e(text)}</code></pre>"
