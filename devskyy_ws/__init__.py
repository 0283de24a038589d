"""devskyy_ws: the real-time backend of the DevSkyy AI-agent operations dashboard.

Embed it with ``parent.add_subapp("/devskyy", create_app(Settings(...)))`` and reach its
hub, settings and services through the exported `AppKey`s.
"""

from __future__ import annotations

from .app import create_app
from .hub import Hub
from .keys import HUB_KEY, JWT_KEY, REQUEST_STATS_KEY, SERVICES_KEY, SETTINGS_KEY, STORE_KEY
from .settings import Settings
from .version import __version__

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
