"""Code blocks of the README marked `<!-- snippet:NAME -->`, for tests to run."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def snippet(name: str) -> str:
    match = re.search(
        rf"<!-- snippet:{re.escape(name)} -->\s*```\w*\n(.*?)```", README.read_text(), re.S
    )
    assert match is not None, f"README has no snippet {name!r}"
    return match.group(1)
