"""devskyy_ws: the real-time backend of the DevSkyy AI-agent operations dashboard.

Embed it with ``parent.add_subapp("/devskyy", create_app(Settings(...)))`` and reach its
hub, settings and services through the exported `AppKey`s.

The names below load on first use, so `import devskyy_ws.client` (a producer's or a
dashboard's process) loads no server module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .app import create_app
    from .channels.hub import Hub
    from .keys import HUB_KEY, JWT_KEY, REQUEST_STATS_KEY, SERVICES_KEY, SETTINGS_KEY, STORE_KEY
    from .settings import Settings

__all__ = [
    "HUB_KEY",
    "JWT_KEY",
    "REQUEST_STATS_KEY",
    "SERVICES_KEY",
    "SETTINGS_KEY",
    "STORE_KEY",
    "Hub",
    "Settings",
    "__version__",
    "create_app",
]

_HOMES = {
    "create_app": ".app",
    "Hub": ".channels.hub",
    "Settings": ".settings",
    **dict.fromkeys(
        ["HUB_KEY", "JWT_KEY", "REQUEST_STATS_KEY", "SERVICES_KEY", "SETTINGS_KEY", "STORE_KEY"],
        ".keys",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
