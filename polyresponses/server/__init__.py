"""``polyresponses serve``: the gateway, the full Responses API over every provider.

Needs the ``[server]`` extra (Starlette, uvicorn, websockets, cryptography); ``import polyresponses``
never imports this package, and importing it without the extra names the extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "create_app", "load_config", "serve"]

_EXTRA_MODULES = ("starlette", "uvicorn")


def _require_extra() -> None:
    import importlib.util

    missing = [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"the gateway needs the [server] extra (missing: {', '.join(missing)}): pip install 'polyresponses[server]'"
        )


_require_extra()

from polyresponses.server._app import create_app  # noqa: E402
from polyresponses.server._config import ConfigError, GatewayConfig, load_config  # noqa: E402
from polyresponses.server._gateway import Gateway  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Mapping


def serve(
    config: GatewayConfig, *, log_level: str = "info", environ: Mapping[str, str] | None = None, **uvicorn_options: Any
) -> None:
    """Run the gateway on uvicorn until interrupted (one worker: state is shared through the store)."""
    import uvicorn

    config.check_bind()
    app = create_app(gateway=Gateway(config, environ))
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        ws_max_size=config.max_ws_frame_bytes,
        timeout_graceful_shutdown=5,
        access_log=False,  # the gateway's metrics count requests; a line per request costs ~10% throughput
        **uvicorn_options,
    )
