"""Which LLM providers exist, from `--providers-file` (TOML); offline by default.

```toml
[tasks]
provider = "openai"            # runs agent tasks

[round_table]
judge = "offline-judge"        # or any provider name
timeout = 60
weights = { relevance = 0.3, quality = 0.25, completeness = 0.2, efficiency = 0.1, brand = 0.15 }
favour = ["luxury", "timeless"]
avoid = ["cheap", "discount"]
include_offline = true         # keep the six offline providers beside real ones

[[providers]]
name = "openai"
kind = "openai"                # OpenAI-compatible chat completions
base_url = "https://api.openai.com/v1"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
input_price_per_1k = 0.00015
output_price_per_1k = 0.0006
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from .. import tomlfile
from ..tomlfile import ConfigFileError
from .llm import LLMProvider, OpenAICompatProvider
from .offline import OFFLINE_STYLES, OfflineProvider

__all__ = [
    "DEFAULT_WEIGHTS",
    "ProviderConfig",
    "ProvidersFile",
    "load_provider_config",
]

DEFAULT_WEIGHTS: dict[str, float] = {
    "relevance": 0.3,
    "quality": 0.25,
    "completeness": 0.2,
    "efficiency": 0.1,
    "brand": 0.15,
}
DEFAULT_FAVOUR = ("luxury", "timeless", "crafted", "elegant", "rose", "signature", "exclusive")
DEFAULT_AVOID = ("cheap", "discount", "knockoff", "bargain", "clearance")
OFFLINE_JUDGE = "offline-judge"


@attrs.frozen(kw_only=True)
class ProviderEntry:
    """One `[[providers]]` entry; unset fields take the provider's own defaults."""

    name: str
    kind: str = attrs.field(default="openai", validator=attrs.validators.in_(("openai", "offline")))
    style: str = "detailed"  # offline only
    display_name: str | None = None
    enabled: bool = True
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    backoff_base: float | None = None
    input_price_per_1k: float | None = None
    output_price_per_1k: float | None = None
    temperature: float | None = None

    def build(self) -> LLMProvider:
        if self.kind == "offline":
            return OfflineProvider(self.name, self.style, self.display_name, self.enabled)
        if self.base_url is None or self.model is None:
            raise ConfigFileError(f"provider {self.name!r}: needs base_url and model")
        given = {
            k: v
            for k, v in attrs.asdict(self).items()
            if v is not None and k not in ("name", "kind", "style", "base_url", "model")
        }
        return OpenAICompatProvider(
            name=self.name, base_url=self.base_url, model=self.model, **given
        )


@attrs.frozen(kw_only=True)
class TasksSection:
    provider: str | None = None


@attrs.frozen(kw_only=True)
class RoundTableSection:
    judge: str = OFFLINE_JUDGE
    timeout: float = 60.0
    weights: dict[str, float] = attrs.Factory(dict)
    favour: tuple[str, ...] = DEFAULT_FAVOUR
    avoid: tuple[str, ...] = DEFAULT_AVOID
    include_offline: bool = False  # keep the offline providers beside real ones


@attrs.frozen(kw_only=True)
class ProvidersFile:
    tasks: TasksSection = TasksSection()
    round_table: RoundTableSection = RoundTableSection()
    providers: tuple[ProviderEntry, ...] = ()
    pipeline: dict[str, Any] = attrs.Factory(dict)  # the 3D pipeline's section, read there


@attrs.define
class ProviderConfig:
    providers: dict[str, LLMProvider]
    task_provider: str
    judge: str
    weights: dict[str, float]
    favour: tuple[str, ...]
    avoid: tuple[str, ...]
    timeout: float = 60.0

    def get(self, name: str) -> LLMProvider:
        return self.providers[name]

    def competitors(self) -> list[LLMProvider]:
        return [p for p in self.providers.values() if p.enabled]

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()


def offline_providers() -> dict[str, LLMProvider]:
    return {f"offline-{s}": OfflineProvider(f"offline-{s}", s) for s in OFFLINE_STYLES}


def load_provider_config(path: Path | None) -> ProviderConfig:
    """The offline default, or what the file says.

    Raises:
        ConfigFileError: unreadable file, unknown keys or provider names, bad weights.
    """
    where = str(path) if path is not None else "providers"
    doc = tomlfile.read(path) if path is not None else {}
    file = tomlfile.structure(doc, ProvidersFile, where)
    configured = [entry.build() for entry in file.providers]
    round_table = file.round_table
    providers: dict[str, LLMProvider] = {}
    if not configured or round_table.include_offline:
        providers.update(offline_providers())
    for provider in configured:
        providers[provider.name] = provider
    task_provider = file.tasks.provider or (
        configured[0].name if configured else "offline-detailed"
    )
    if task_provider not in providers:
        raise ConfigFileError(f"{where}: [tasks] provider {task_provider!r} is not defined")
    judge = round_table.judge
    if judge != OFFLINE_JUDGE and judge not in providers:
        raise ConfigFileError(f"{where}: [round_table] judge {judge!r} is not defined")
    weights = {**DEFAULT_WEIGHTS, **round_table.weights}
    if set(weights) != set(DEFAULT_WEIGHTS) or abs(sum(weights.values()) - 1.0) > 1e-6:
        raise ConfigFileError(
            f"{where}: [round_table] weights must cover {', '.join(DEFAULT_WEIGHTS)} and sum to 1"
        )
    return ProviderConfig(
        providers=providers,
        task_provider=task_provider,
        judge=judge,
        weights=weights,
        favour=round_table.favour,
        avoid=round_table.avoid,
        timeout=round_table.timeout,
    )
