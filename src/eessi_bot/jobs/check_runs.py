"""Whether check runs are written now: `[github] check_runs`, unless GitHub refused them.

An App without the Checks permission gets a 403 for every check-runs call. The outbox sender then
suspends check runs (`suspend`): the suspension is kept in the database's meta table, so every process
of the instance (serve, or event-handler and job-manager) stops staging them at once, and a restart
does not ask GitHub again and warn again. It holds for `core.check_runs.SUSPENDED_FOR` (a day) and
only for the App and installation GitHub refused; `/healthz` shows it (`report`).
"""

from __future__ import annotations

import time
from typing import Dict, Optional

from eessi_bot.core.check_runs import PERMISSION_HINT, Suspension, app_identity
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.ports.store import Store

META_KEY = "check_runs_suspended"


def utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


class CheckRunSwitch:
    """Reads the suspension from the store on every question (one row by its key): cheap, and right in
    every process."""

    def __init__(self, settings: GitHubSettings, store: Store) -> None:
        self.enabled = settings.check_runs
        self.app = app_identity(settings.app_id, settings.installation_id, settings.api_url)
        self.store = store

    def suspension(self, now: float) -> Optional[Suspension]:
        found = Suspension.decode(self.store.get_meta(META_KEY))
        return found if found is not None and found.holds(now, self.app) else None

    def on(self, now: float) -> bool:
        return self.enabled and self.suspension(now) is None

    def suspend(self, now: float, message: str) -> Optional[str]:
        """Turn check runs off; the warning to log when they were on until now (None: they were off
        already, nothing more to say)."""
        if self.suspension(now) is not None:
            return None
        suspension = Suspension(now, self.app, message)
        self.store.set_meta(META_KEY, suspension.encode())
        return (f"check runs are off until {utc(suspension.until())}: GitHub refused to write one ({message}); "
                f"{PERMISSION_HINT}")

    def report(self, now: float) -> Dict[str, str]:
        """The `check_runs` field of `/healthz`: `on`, `off` (app.cfg) or `suspended` with the reason."""
        if not self.enabled:
            return {"state": "off", "reason": "[github] check_runs = false"}
        suspension = self.suspension(now)
        if suspension is None:
            return {"state": "on"}
        return {"state": "suspended",
                "reason": f"GitHub refused check runs at {utc(suspension.since)} ({suspension.message}); "
                          f"{PERMISSION_HINT}; they are tried again from {utc(suspension.until())}"}
