"""The API document's JSON examples, read from the vendored copy in docs/api/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "api" / "websocket-api-doc.md"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "websocket-api-doc.md"


def json_examples() -> list[Any]:
    """Every ```json block that parses (the document also has elided ones)."""
    out: list[Any] = []
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S):
        try:
            out.append(json.loads(block))
        except ValueError:
            continue
    return out


def message_examples() -> dict[str, dict[str, Any]]:
    """Server-to-client examples by type (the first of each)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in json_examples():
        if isinstance(doc, dict) and "type" in doc:
            found.setdefault(doc["type"], doc)
    return found
