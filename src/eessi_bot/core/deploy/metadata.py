"""The `<artefact>.meta.txt` beside each upload (reference §7.5), read by EESSI's ingestion.

Same JSON as the EESSI upload script wrote with `jq`: `uploader`, `payload`, `link2pr`, every value a
string, two-space indentation, a final newline. What this bot adds goes into its own top-level object
(`eessi_bot`), so readers of the three EESSI objects see nothing new. The EESSI script asked an AWS
web service for the uploader's IP address; here the deployer passes the host's own (no lookup).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Optional

EXTRA_SECTION = "eessi_bot"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Uploader:
    username: str
    ip: str
    hostname: str


@dataclass(frozen=True)
class Payload:
    filename: str
    size: int
    ctime: str
    """As `date -r FILE` shows it (`ctime_text`)."""
    sha256sum: str
    url: str


@dataclass(frozen=True)
class PrLink:
    repo: str
    pr: int
    pr_comment_id: int
    """The job's comment, which the ingestion may update."""


@dataclass(frozen=True)
class BotFacts:
    """What this bot knows beyond EESSI's fields: the commits built, the job, who approved it."""

    base_sha: str
    head_sha: str
    job_id: str
    node_type: str
    instance: str
    approved_by: str
    repo_id: str
    policy: str
    software_subdir: str
    accelerator: Optional[str] = None


def ctime_text(timestamp: float) -> str:
    """`date -r FILE` in the C locale and UTC (`Tue Aug 27 10:00:00 UTC 2024`), whatever the locale."""
    t = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S} UTC {t.year}"


def metadata_document(uploader: Uploader, payload: Payload, link: PrLink, bot: BotFacts) -> Dict[str, Dict[str, str]]:
    """The document as nested dicts, in the order it is written."""
    return {
        "uploader": {"username": uploader.username, "ip": uploader.ip, "hostname": uploader.hostname},
        "payload": {"filename": payload.filename, "size": str(payload.size), "ctime": payload.ctime,
                    "sha256sum": payload.sha256sum, "url": payload.url},
        "link2pr": {"repo": link.repo, "pr": str(link.pr), "pr_comment_id": str(link.pr_comment_id)},
        EXTRA_SECTION: {"base_sha": bot.base_sha, "head_sha": bot.head_sha, "job_id": bot.job_id,
                        "node_type": bot.node_type, "instance": bot.instance, "approved_by": bot.approved_by,
                        "repo_id": bot.repo_id, "policy": bot.policy, "software_subdir": bot.software_subdir,
                        "accelerator": bot.accelerator or ""},
    }


def render_metadata(uploader: Uploader, payload: Payload, link: PrLink, bot: BotFacts) -> bytes:
    """The `.meta.txt` bytes: UTF-8 JSON laid out as `jq` lays it out."""
    text = json.dumps(metadata_document(uploader, payload, link, bot), indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8", errors="backslashreplace")
