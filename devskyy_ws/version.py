from __future__ import annotations

__all__ = ["SERVER_HEADER", "__version__"]

__version__ = "0.1.0"
SERVER_HEADER = "devskyy_ws"  # the Server header: the product, not Python's or aiohttp's version
