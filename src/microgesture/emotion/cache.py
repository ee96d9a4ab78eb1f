"""On-disk response cache for LLM calls, keyed by sha256 of (model, messages, parameters).

Why: LLM benchmarks are slow and cost money. Each finished call is committed to SQLite at once (one
transaction per row, WAL journal), so an interrupted run resumes where it stopped, a rerun costs nothing,
and ``INSERT OR IGNORE`` on the primary key makes duplicates impossible. Only successful replies are
stored — failures are retried next time. Raw replies are kept (not parsed labels), so parser changes
apply to cached runs too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import DataError


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """A thread-safe key → JSON-document store in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, "
                             "created REAL, response TEXT NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as e:
            raise DataError(self.path, f"not a usable response cache ({e})") from e

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, response: dict[str, Any]) -> bool:
        """Store once; returns False if the key was already there (the first answer wins)."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)",
                                   (key, model, time.time(), json.dumps(response, ensure_ascii=False)))
            self._db.commit()
        return cur.rowcount == 1

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
