"""The agent roster: six default agent types, overridable from a TOML file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import attrs

from .. import tomlfile
from ..contract.records import ToolInfo

__all__ = ["AGENT_TYPES", "AgentDefinition", "load_roster"]

AGENT_TYPES = ("commerce", "creative", "marketing", "support", "operations", "analytics")


@attrs.frozen(kw_only=True)
class AgentDefinition:
    """One `[[agents]]` entry of the roster file."""

    type: str
    name: str = attrs.field(
        default=attrs.Factory(lambda self: f"{self.type.title()} Agent", takes_self=True)
    )
    description: str = ""
    capabilities: tuple[str, ...] = ()
    tools: tuple[ToolInfo, ...] = ()
    ml_models: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.type}-001"


@attrs.frozen
class RosterFile:
    agents: tuple[AgentDefinition, ...] = ()


def load_roster(override: Path | None = None) -> dict[str, AgentDefinition]:
    """The packaged defaults, with entries from `override` replacing same-type ones.

    Raises:
        ConfigFileError: the override file is unreadable or malformed (naming the key).
    """
    packaged = resources.files("devskyy_ws").joinpath("data/agents.toml").read_text()
    files = [("agents.toml", tomlfile.parse(packaged, "agents.toml"))]
    if override is not None:
        files.append((str(override), tomlfile.read(override)))
    roster: dict[str, AgentDefinition] = {}
    for where, doc in files:
        for definition in tomlfile.structure(doc, RosterFile, where).agents:
            roster[definition.type] = definition
    return roster
