"""A recording fake of the `Deploys` port, for event handler tests."""

from __future__ import annotations

from typing import List, Tuple


class FakeDeploys:
    def __init__(self, stopped: int = 0) -> None:
        self.calls: List[Tuple[object, ...]] = []
        self.stopped = stopped

    def label_on(self, repo: str, pr_number: int, approved_by: str, delivery_id: str) -> None:
        self.calls.append(("label_on", repo, pr_number, approved_by, delivery_id))

    def label_off(self, repo: str, pr_number: int) -> int:
        self.calls.append(("label_off", repo, pr_number))
        return self.stopped
