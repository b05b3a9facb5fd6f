"""Wire dialects: pure translation between our canonical models and one wire format each.

A dialect module builds :class:`WireRequest` values from canonical request bodies, parses wire
replies into canonical models and translates a wire byte stream into canonical stream events with a
small state machine (``feed(chunk) -> list[event]``, ``finish()``). It does no I/O: the sync and
async shells in ``polyresponses.router._client`` send what it builds and feed it what arrives.
"""

from __future__ import annotations

from polyresponses.router.dialects._wire_request import WireRequest

__all__ = ["WireRequest"]
