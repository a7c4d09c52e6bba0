"""Pacing of GitHub writes under the secondary rate limits.

GitHub allows about 80 content-creating requests a minute and 500 an hour per installation. A
sliding window per limit allows bursts and keeps the sustained rate under both.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Sequence, Tuple

SECONDARY_LIMITS: Tuple[Tuple[float, int], ...] = ((60.0, 80), (3600.0, 500))


class Pacer:
    def __init__(self, limits: Sequence[Tuple[float, int]] = SECONDARY_LIMITS) -> None:
        self._limits = tuple(limits)
        self._sent: Deque[float] = deque()
        self._horizon = max(window for window, _ in self._limits)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next write may go out (0 when it may go now)."""
        while self._sent and self._sent[0] <= now - self._horizon:
            self._sent.popleft()
        wait = 0.0
        for window, count in self._limits:
            recent = [t for t in self._sent if t > now - window]
            if len(recent) >= count:
                wait = max(wait, recent[len(recent) - count] + window - now)
        return wait

    def record(self, now: float) -> None:
        self._sent.append(now)
