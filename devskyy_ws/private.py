"""Files and folders only this server's user may read: the data dir, the database, assets.

`mkdir` and `open` modes are narrowed by the process umask, never widened, and a loose
umask (0o002, 0o000) would leave prompts, results and the JWT secret readable by other
users; so modes are set explicitly after creating.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_dir", "private_file", "write_private"]


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create an empty `path` as 0600 if it does not exist (SQLite gives its WAL and
    shared-memory files the same mode as the database file)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.fchmod(fd, 0o600)
    os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (0600) through a temporary file, so readers see it whole."""
    partial = path.with_suffix(path.suffix + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    partial.replace(path)
