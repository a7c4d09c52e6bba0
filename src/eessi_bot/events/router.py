"""Dispatch by event and action through an explicit table (no handler lookup by name)."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from eessi_bot.events.context import EventContext

EventHandler = Callable[[EventContext], str]
"""Returns a short outcome for the log and the inbox row; GitHub writes go to `ctx.effects`."""


class Router:
    def __init__(self) -> None:
        self._table: Dict[Tuple[str, Optional[str]], List[EventHandler]] = {}

    def add(self, event: str, action: Optional[str], handler: EventHandler) -> None:
        """Register `handler` for `event` with `action` (None: every action of the event)."""
        self._table.setdefault((event, action), []).append(handler)

    def handlers(self, event: str, action: Optional[str]) -> List[EventHandler]:
        found = list(self._table.get((event, action), []))
        if action is not None:
            found += self._table.get((event, None), [])
        return found
