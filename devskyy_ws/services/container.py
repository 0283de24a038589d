"""All services of one app, started and stopped together by the app's cleanup context."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..hub import Hub
    from ..settings import Settings
    from ..store.base import Store
    from ..timing import RequestStats

__all__ = ["Service", "Services", "build_services"]

log = logging.getLogger("devskyy_ws.services")


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self, grace: float) -> None: ...


def build_services(settings: Settings, store: Store, hub: Hub, stats: RequestStats) -> Services:
    """Wire every service to the store and the hub; nothing starts until `start()`."""
    return Services()


class Services:
    """Holds the services by name; starts them in order and stops them in reverse."""

    def __init__(self) -> None:
        self._order: list[Service] = []
        self.ready = False

    def add(self, service: Service) -> None:
        self._order.append(service)

    async def start(self) -> None:
        for service in self._order:
            await service.start()
        self.ready = True

    async def stop(self, grace: float) -> None:
        self.ready = False
        for service in reversed(self._order):
            try:
                await service.stop(grace)
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        await asyncio.sleep(0)
