"""One SQLite file under `[bot] data_dir`, opened once per thread, in WAL mode.

Writes use short `BEGIN IMMEDIATE` transactions (never held across network calls), so the webhook
endpoint can always store a delivery within milliseconds.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from eessi_bot.adapters.sqlite.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
DB_NAME = "eessi-bot.sqlite3"


class Database:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        """`read_only`: a reader beside a running bot (admin commands): `mode=ro`, never created or
        migrated (see `schema_problem`)."""
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._all: List[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._migrate()

    @classmethod
    def in_dir(cls, data_dir: Path) -> Database:
        return cls(data_dir / DB_NAME)

    def connection(self) -> sqlite3.Connection:
        conn: Optional[sqlite3.Connection] = getattr(self._local, "conn", None)
        if conn is None:
            target = f"{self.path.resolve().as_uri()}?mode=ro" if self.read_only else str(self.path)
            conn = sqlite3.connect(target, uri=self.read_only, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self.read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction: committed on success, rolled back on any exception.

        Writers of this process queue on a lock rather than in SQLite's busy handler, which sleeps
        in steps of up to 100 ms and would make the webhook's answer wait that long.
        """
        conn = self.connection()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self.connection()
        with self.write():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(f"{self.path} was written by a newer eessi-bot (schema {version})")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def schema_problem(self) -> Optional[str]:
        """Why this reader cannot read the file, or None (its schema is the one this version writes)."""
        version = int(self.connection().execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            return f"{self.path} was written by a newer eessi-bot (schema {version}); use the version the bot runs"
        if version < len(MIGRATIONS):
            return (f"{self.path} was written by an older eessi-bot (schema {version}); start the bot with this "
                    "version once to update it")
        return None

    def get_meta(self, key: str) -> Optional[str]:
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
