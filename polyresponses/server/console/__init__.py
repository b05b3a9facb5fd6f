"""The gateway console at ``/console``: what went through the gateway, a playground, the providers, the metrics.

Server-rendered HTML over the gateway's own core and store (``_pages``), signed in with a gateway key
(``_session``: a sealed cookie, never the key), every value escaped and no inline script
(``_html``), charts as SVG (``_charts``), and one small script for the playground's streams
(``static/playground.js``). Templates and assets ship in the package: no build step, no CDN, it works
offline.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from polyresponses.server.console._pages import (
    api_responses,
    console_page,
    login,
    logout,
    metrics_page,
    playground_page,
    provider_check,
    providers_page,
    response_page,
    responses_page,
)

__all__ = ["routes"]

STATIC = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    """The console's routes, mounted by the gateway app."""
    return [
        Route("/console", console_page(responses_page), methods=["GET"]),
        Route("/console/login", login, methods=["GET", "POST"]),
        Route("/console/logout", logout, methods=["POST"]),
        Route("/console/responses/{response_id}", console_page(response_page), methods=["GET"]),
        Route("/console/playground", console_page(playground_page), methods=["GET"]),
        Route("/console/api/responses", console_page(api_responses, mutating=True, api=True), methods=["POST"]),
        Route("/console/providers", console_page(providers_page), methods=["GET"]),
        Route("/console/providers/{provider}/check", console_page(provider_check, mutating=True), methods=["POST"]),
        Route("/console/metrics", console_page(metrics_page), methods=["GET"]),
        Mount("/console/static", app=StaticFiles(directory=STATIC), name="console-static"),
    ]
