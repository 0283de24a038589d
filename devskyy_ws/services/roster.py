"""The agent roster: six default agent types, overridable from a TOML file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from ..contract.records import ToolInfo

__all__ = ["AGENT_TYPES", "AgentDefinition", "RosterError", "load_roster"]

AGENT_TYPES = ("commerce", "creative", "marketing", "support", "operations", "analytics")


class RosterError(ValueError):
    """The agents file is not usable; the message says where."""


@attrs.frozen(kw_only=True)
class AgentDefinition:
    type: str
    name: str
    description: str
    capabilities: tuple[str, ...]
    tools: tuple[ToolInfo, ...]
    ml_models: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.type}-001"


def _definition(raw: Any, where: str) -> AgentDefinition:
    if not isinstance(raw, dict):
        raise RosterError(f"{where}: each [[agents]] entry must be a table")
    try:
        tools = tuple(
            ToolInfo(
                name=str(t["name"]),
                description=str(t.get("description", "")),
                category=str(t.get("category", "general")),
                parameters=dict(t.get("parameters", {})),
            )
            for t in raw.get("tools", [])
        )
        return AgentDefinition(
            type=str(raw["type"]),
            name=str(raw.get("name", f"{str(raw['type']).title()} Agent")),
            description=str(raw.get("description", "")),
            capabilities=tuple(str(c) for c in raw.get("capabilities", [])),
            tools=tools,
            ml_models=tuple(str(m) for m in raw.get("ml_models", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RosterError(f"{where}: invalid agent entry ({exc})") from exc


def _parse(text: str, where: str) -> list[AgentDefinition]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterError(f"{where}: {exc}") from exc
    return [_definition(item, where) for item in doc.get("agents", [])]


def load_roster(override: Path | None = None) -> dict[str, AgentDefinition]:
    """The packaged defaults, with entries from `override` replacing same-type ones.

    Raises:
        RosterError: the override file is unreadable or malformed.
    """
    packaged = resources.files("devskyy_ws").joinpath("data/agents.toml").read_text()
    roster = {d.type: d for d in _parse(packaged, "agents.toml")}
    if override is not None:
        try:
            text = override.read_text()
        except OSError as exc:
            raise RosterError(f"{override}: {exc}") from exc
        for definition in _parse(text, str(override)):
            roster[definition.type] = definition
    return roster
