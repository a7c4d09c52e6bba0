"""What came of a build command: the jobs submitted, the ones that failed, or why nothing was tried."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from eessi_bot.core.jobs import Job
from eessi_bot.core.targets import Target


@dataclass
class BuildReport:
    submitted: List[Job] = field(default_factory=list)
    failed: List[Tuple[Target, str]] = field(default_factory=list)
    """Targets whose job could not be submitted, with the scheduler's message."""
    download_error: Optional[str] = None
    """Fetching or merging the PR failed: the whole command stopped (the message is PR-ready)."""
