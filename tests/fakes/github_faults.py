"""Scripted failures for the fake GitHub: what to answer instead of (or after) handling a request."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Pattern

from tests.fakes.github_objects import error_body

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)
_REASONS = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Fault:
    """One scripted answer for requests whose method and path match; used up after `remaining` hits."""

    method: str
    pattern: Pattern[str]
    status: int
    remaining: int
    headers: Dict[str, str] = field(default_factory=dict)
    body: Any = None
    after_effect: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and self.pattern.search(path) is not None

    def response_body(self) -> Any:
        if self.body is not None:
            return self.body
        return error_body(_REASONS.get(self.status, "Fault injected by the fake GitHub"))


class FaultQueue:
    """Faults in the order they were injected; the first live match is consumed (thread-safe)."""

    def __init__(self) -> None:
        self._faults: List[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        count: int = 1,
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        after_effect: bool = False,
    ) -> Fault:
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(
            method=method.upper(),
            pattern=re.compile(path_regex),
            status=status,
            remaining=count,
            headers=dict(headers or {}),
            body=body,
            after_effect=after_effect,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Optional[Fault]:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    def pending(self) -> int:
        """How many injected failures have not been served yet."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
