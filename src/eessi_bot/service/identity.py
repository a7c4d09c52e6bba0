"""Who the bot is on GitHub: its App id (config) and slug (fetched once, cached in the database)."""

from __future__ import annotations

import threading
from typing import Optional

from eessi_bot.ports.github import Comment, GitHub
from eessi_bot.ports.store import Store


class Identity:
    def __init__(self, app_id: int, github: GitHub, store: Store) -> None:
        self.app_id = app_id
        self._github = github
        self._store = store
        self._slug: Optional[str] = None
        self._lock = threading.Lock()

    def slug(self) -> str:
        with self._lock:
            if self._slug is None:
                cached = self._store.get_meta("app_slug")
                if cached is None:
                    cached = self._github.app_slug()
                    self._store.set_meta("app_slug", cached)
                self._slug = cached
            return self._slug

    def wrote(self, comment: Comment) -> bool:
        """True if this App wrote `comment` (a user may copy our marker; that must not fool us)."""
        if comment.via_app_id is not None:
            return comment.via_app_id == self.app_id
        return comment.author.endswith("[bot]") and comment.author == f"{self.slug()}[bot]"
