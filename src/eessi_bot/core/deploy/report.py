"""How a deploy is shown on the PR: a row per artefact in its job's comment (reference §7.6, the
EESSI text) and one summary comment per deploy (who approved, the policy, what went where, what was
skipped and why). Artefact names and error texts are untrusted: names go into code spans that they
cannot close, reasons are made one line without `|`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from eessi_bot.core.deploy.policy import Decision
from eessi_bot.core.job_comment import comment_date
from eessi_bot.core.jobs import Row
from eessi_bot.core.markdown import cell, code

MAX_REASON = 500

WAITING = "waiting"
UPLOADED = "uploaded"
FAILED = "failed"


def safe_reason(reason: str) -> str:
    """One line, no `|` (a table cell's end even inside a code span), at most MAX_REASON characters."""
    text = " ".join(reason.split()).replace("|", "¦")
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + " …"


def upload_row(now: float, artefact: str, uploaded: bool, reason: Optional[str]) -> Row:
    """`|date|uploaded|transfer of `<artefact>` to S3 bucket succeeded|`, or `not uploaded` and
    `... failed` / `... failed (<reason>)`, as the EESSI bot wrote them."""
    text = f"transfer of {code(artefact)} to S3 bucket "
    if uploaded:
        return Row(comment_date(now), "uploaded", text + "succeeded")
    return Row(comment_date(now), "not uploaded", text + "failed" + (f" ({safe_reason(reason)})" if reason else ""))


@dataclass(frozen=True)
class DeployItem:
    """A decision and, for a chosen artefact, where it goes and how its upload went."""

    decision: Decision
    bucket: Optional[str] = None
    key: Optional[str] = None
    state: str = WAITING
    """WAITING, UPLOADED or FAILED (chosen artefacts only)."""
    error: Optional[str] = None
    """Why a chosen artefact failed (no bucket, the store refused, signing failed)."""


def _target(item: DeployItem) -> str:
    target = item.decision.candidate.target
    text = code(target.arch) + (f", {code(target.accelerator)}" if target.accelerator else "")
    return f"{text} for {code(target.repo_id)}"


def _status(item: DeployItem) -> str:
    if item.state == FAILED:
        return "failed" + (f" ({safe_reason(item.error)})" if item.error else "")
    return item.state


def _place(value: Optional[str]) -> str:
    return code(value) if value else "-"


def _chosen_table(items: Sequence[DeployItem]) -> List[str]:
    lines = ["|job|target|artefact|bucket|key|status|", "|---|---|---|---|---|---|"]
    for item in items:
        c = item.decision.candidate
        lines.append("|" + "|".join(cell(v) for v in (
            code(c.job_id), _target(item), code(c.artefact), _place(item.bucket), _place(item.key),
            _status(item))) + "|")
    return lines


def _skipped_table(items: Sequence[DeployItem]) -> List[str]:
    lines = ["|job|target|artefact|why not|", "|---|---|---|---|"]
    for item in items:
        c = item.decision.candidate
        why = safe_reason(item.decision.reason or "not chosen")
        lines.append("|" + "|".join(cell(v) for v in (code(c.job_id), _target(item), code(c.artefact), why)) + "|")
    return lines


def render_deploy_summary(instance: str, approved_by: str, policy: str, items: Sequence[DeployItem]) -> str:
    """The deploy's own comment, re-rendered whole as uploads progress."""
    chosen = [i for i in items if i.decision.upload]
    skipped = [i for i in items if not i.decision.upload]
    lines = [f"Deploy on instance {code(instance)}, approved by {code(approved_by)}, "
             f"upload policy {code(policy)}: {len(chosen)} to upload, {len(skipped)} skipped."]
    if not items:
        lines += ["", "No finished successful job of this PR has artefacts yet."]
    if chosen:
        lines += ["", *_chosen_table(chosen)]
    if skipped:
        lines += ["", "Skipped:", "", *_skipped_table(skipped)]
    return "\n".join(lines)
