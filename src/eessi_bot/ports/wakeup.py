"""The one signal between the bot's threads: "new work is there for you".

The webhook endpoint wakes the workers when a delivery is stored, the workers and the job manager
wake the outbox sender when they stored GitHub writes, commands wake the job manager when they
submitted or cancelled jobs. Each waiter still looks at the database on its own schedule, so a
lost or spurious wake-up only costs time, never work. `cli/runtime.py` wires them.
"""

from __future__ import annotations

import threading


class Wakeup:
    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds or until notified (True). A notification that came while
        nobody waited is kept for the next wait; the waiter must look for work after this returns."""
        notified = self._event.wait(timeout)
        self._event.clear()
        return notified
