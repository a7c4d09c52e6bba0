"""This instance's deploys, as event handlers see them (`eessi_bot.deploy.service.DeployService`).

The label handler only records that `bot:deploy` is on or off; the deployer thread chooses what to
upload and uploads it, so the webhook's answer never waits for S3.
"""

from __future__ import annotations

from typing import Protocol


class Deploys(Protocol):
    def label_on(self, repo: str, pr_number: int, approved_by: str, delivery_id: str) -> None:
        """`bot:deploy` was set by someone with deploy permission: deploy the PR's successful jobs,
        those that finish later too, while the label stays on."""
        ...

    def label_off(self, repo: str, pr_number: int) -> int:
        """The label was removed: uploads that have not started are stopped; how many."""
        ...
