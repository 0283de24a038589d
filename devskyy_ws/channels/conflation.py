"""What a conflating socket keeps while it is behind: the latest message per key.

A socket that opted in (`?conflate=1`, or `"conflate": true` in `subscribe`) and falls
behind gets, once it drains, the latest version of each key in the order of those
latest versions, after one `conflated` message saying how many were skipped. Terminal
states and errors are never replaced: each is kept and sent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TERMINAL", "conflation_key"]

TERMINAL = frozenset({"completed", "failed", "cancelled", "error"})
_KEYS = {
    "tasks": "task_id",
    "round_table": "competition_id",
    "3d_pipeline": "pipeline_id",
}


def conflation_key(channel: str, doc: dict[str, Any]) -> str | None:
    """The key whose latest version replaces earlier ones; None: never replaced."""
    if doc.get("type") == "error":
        return None
    if channel == "metrics":
        return "metrics"
    if channel == "agents":
        data = doc.get("data")
        agent_type = data.get("agent_type") if isinstance(data, dict) else None
        return str(agent_type or doc.get("agent_id"))
    field = _KEYS.get(channel)
    return str(doc.get(field)) if field is not None else None


def is_terminal(doc: dict[str, Any]) -> bool:
    return doc.get("status") in TERMINAL or doc.get("stage") in TERMINAL
