"""The WAL copied back into the database file, on a connection and thread of its own.

SQLite checkpoints on the connection whose commit takes the WAL past 1,000 pages: it
copies them and syncs both files (synchronous=NORMAL), and the group commit that
crossed the line waits for it, and with it every request waiting on that group. Here
the writer only pokes this thread every POKE_EVERY groups that wrote, and goes on; the
checkpoint runs beside it in SQLite's C code, which needs no GIL. The writer keeps an automatic
checkpoint of its own at BACKSTOP_PAGES: a passive checkpoint cannot finish while new
commits keep coming, and only a finished one lets the WAL start over, so under
unbroken load that backstop is what bounds the WAL's size (to about 32 MB).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["BACKSTOP_PAGES", "POKE_EVERY", "Checkpointer"]

log = logging.getLogger("devskyy_ws.store")

POKE_EVERY = 32  # groups that wrote; with ~10 pages each, a checkpoint per ~300 pages
BACKSTOP_PAGES = 8000


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` when poked, never on the caller's thread."""

    def __init__(self, path: Path, poke_every: int = POKE_EVERY) -> None:
        self.path = path
        self.poke_every = poke_every
        self.checkpoints = 0  # finished, for tests and benchmarks
        self.backfilled = 0  # WAL frames in the database file after the last one
        self._commits = 0
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._wanted.clear()
        self._thread = threading.Thread(target=self._serve, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Called by the writer after each group that wrote: every `poke_every`th wakes the
        thread."""
        self._commits += 1
        if self._commits >= self.poke_every:
            self._commits = 0
            self._wanted.set()

    def stop(self) -> None:
        """Blocks until the thread has ended (call it from a worker thread)."""
        if self._thread is None:
            return
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        self._thread = None

    def _serve(self) -> None:
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error:
            log.exception("checkpoint connection failed; the writer's own checkpoints remain")
            return
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    _, _, backfilled = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    log.exception("checkpoint failed; trying again at the next poke")
                    continue
                self.backfilled = int(backfilled)
                self.checkpoints += 1
        finally:
            db.close()
