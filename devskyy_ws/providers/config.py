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

import tomllib
from pathlib import Path
from typing import Any

import attrs

from .llm import LLMProvider, OpenAICompatProvider
from .offline import OFFLINE_STYLES, OfflineProvider

__all__ = ["DEFAULT_WEIGHTS", "ProviderConfig", "ProviderConfigError", "load_provider_config"]

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


class ProviderConfigError(ValueError):
    """The providers file is unusable; the message says what to fix."""


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


def _provider(raw: Any) -> LLMProvider:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ProviderConfigError("each [[providers]] entry needs a string 'name'")
    kind = raw.get("kind", "openai")
    try:
        if kind == "offline":
            return OfflineProvider(
                raw["name"],
                raw.get("style", "detailed"),
                raw.get("display_name"),
                raw.get("enabled", True),
            )
        if kind == "openai":
            fields = {
                k: raw[k]
                for k in (
                    "base_url",
                    "model",
                    "api_key_env",
                    "display_name",
                    "timeout",
                    "max_retries",
                    "backoff_base",
                    "input_price_per_1k",
                    "output_price_per_1k",
                    "temperature",
                    "enabled",
                )
                if k in raw
            }
            return OpenAICompatProvider(name=raw["name"], **fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderConfigError(f"provider {raw['name']!r}: {exc}") from exc
    raise ProviderConfigError(
        f"provider {raw['name']!r}: unknown kind {kind!r} (offline or openai)"
    )


def load_provider_config(path: Path | None) -> ProviderConfig:
    """The offline default, or what the file says.

    Raises:
        ProviderConfigError: unreadable file, unknown provider names, bad weights.
    """
    doc: dict[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProviderConfigError(f"{path}: {exc}") from exc
    configured = [_provider(raw) for raw in doc.get("providers", [])]
    round_table = doc.get("round_table", {})
    providers: dict[str, LLMProvider] = {}
    if not configured or round_table.get("include_offline", False):
        providers.update(offline_providers())
    for provider in configured:
        providers[provider.name] = provider
    task_provider = doc.get("tasks", {}).get("provider") or (
        configured[0].name if configured else "offline-detailed"
    )
    if task_provider not in providers:
        raise ProviderConfigError(f"[tasks] provider {task_provider!r} is not defined")
    judge = round_table.get("judge", OFFLINE_JUDGE)
    if judge != OFFLINE_JUDGE and judge not in providers:
        raise ProviderConfigError(f"[round_table] judge {judge!r} is not defined")
    weights = {**DEFAULT_WEIGHTS, **round_table.get("weights", {})}
    if set(weights) != set(DEFAULT_WEIGHTS) or abs(sum(weights.values()) - 1.0) > 1e-6:
        raise ProviderConfigError(
            f"[round_table] weights must cover {', '.join(DEFAULT_WEIGHTS)} and sum to 1"
        )
    return ProviderConfig(
        providers=providers,
        task_provider=task_provider,
        judge=judge,
        weights={k: float(v) for k, v in weights.items()},
        favour=tuple(round_table.get("favour", DEFAULT_FAVOUR)),
        avoid=tuple(round_table.get("avoid", DEFAULT_AVOID)),
        timeout=float(round_table.get("timeout", 60.0)),
    )
