"""All services of one app, wired to the store and hub, started and stopped together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from ..providers.config import ProviderConfig, load_provider_config
from .agents import AgentService
from .loading import RecordLoader
from .metrics import MetricsService
from .monitoring import MonitoringService
from .pipeline3d import PipelineService
from .pipeline_config import load_pipeline_config
from .roster import load_roster
from .round_table import RoundTableService
from .tasks import TaskService

if TYPE_CHECKING:
    from ..channels.hub import Hub
    from ..settings import Settings
    from ..store.base import Store
    from .requests import RequestStats

__all__ = ["Service", "Services", "build_services"]

log = logging.getLogger("devskyy_ws.services")


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self, grace: float) -> None: ...


class Services:
    """The app's services by name; started in order, stopped in reverse."""

    def __init__(
        self,
        providers: ProviderConfig,
        agents: AgentService,
        tasks: TaskService,
        round_table: RoundTableService,
        metrics: MetricsService,
        monitoring: MonitoringService,
        pipeline: PipelineService,
        loader: RecordLoader,
    ) -> None:
        self.loader = loader
        self.providers = providers
        self.agents = agents
        self.tasks = tasks
        self.round_table = round_table
        self.metrics = metrics
        self.monitoring = monitoring
        self.pipeline = pipeline
        self.ready = False

    @property
    def _order(self) -> list[Service]:
        return [
            self.agents,
            self.round_table,
            self.tasks,
            self.pipeline,
            self.metrics,
            self.monitoring,
        ]

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
        await self.providers.close()


def build_services(
    settings: Settings,
    store: Store,
    hub: Hub,
    stats: RequestStats,
    started: float,
    asset_url: Callable[[str], str],
) -> Services:
    """Wire every service; nothing runs until `start()`.

    Raises:
        ValueError: the agents or providers file is unusable.
    """
    providers = load_provider_config(settings.providers_file)
    loader = RecordLoader()
    agents = AgentService(load_roster(settings.agents_file), store, hub)
    tasks = TaskService(
        store,
        hub,
        agents,
        providers,
        max_concurrent=settings.max_concurrent_tasks,
        step_delay=settings.task_step_delay,
        instance_id=settings.effective_instance_id,
        lease_s=settings.task_lease,
        loader=loader,
    )
    round_table = RoundTableService(store, hub, providers, loader)
    tasks.round_table = round_table.run_for_task
    metrics = MetricsService(
        store, hub, stats, interval=settings.metrics_interval, data_dir=settings.data_dir
    )
    monitoring = MonitoringService(store, hub, stats, metrics, agents, round_table, started)
    pipeline = PipelineService(
        store,
        hub,
        attrs.evolve(
            load_pipeline_config(settings.providers_file, settings.data_dir / "assets", asset_url),
            asset_retention=settings.asset_retention,
            asset_max_bytes=settings.asset_max_bytes,
        ),
        loader,
    )
    return Services(providers, agents, tasks, round_table, metrics, monitoring, pipeline, loader)
