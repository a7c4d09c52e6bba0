"""What an event handler gets: the delivery, the bot's configuration, its jobs and deploys, and an
effects list."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from eessi_bot.commands.registry import Registry
from eessi_bot.core.config import Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.deploys import Deploys
from eessi_bot.ports.jobs import Jobs


@dataclass
class EventContext:
    delivery: Delivery
    payload: Mapping[str, Any]
    config: Config
    registry: Registry
    jobs: Jobs
    deploys: Deploys
    log: logging.LoggerAdapter  # type: ignore[type-arg]
    received_at: float
    last_attempt: bool = True
    """False while a failed delivery will be tried again (then an unexpected error is not yet reported)."""
    effects: Effects = field(default_factory=Effects)
    late_since: Optional[float] = None
    """GitHub's time of sending, for a delivery that reached the bot late (taken from GitHub's log of
    deliveries after the bot was down); None when it came in time."""
