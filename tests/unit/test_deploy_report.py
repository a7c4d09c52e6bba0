"""Deploy rows in the job comment (EESSI's text) and the one summary comment per deploy."""

from __future__ import annotations

from typing import Optional

import pytest

from eessi_bot.core.deploy.policy import Decision, History, select
from eessi_bot.core.deploy.report import (
    FAILED,
    MAX_REASON,
    UPLOADED,
    WAITING,
    DeployItem,
    render_deploy_summary,
    safe_reason,
    upload_row,
)
from eessi_bot.core.job_comment import table
from eessi_bot.core.jobs import Row
from tests.golden import assert_golden
from tests.unit.test_deploy_policy import ZEN2, ZEN2_GPU, ZEN4, cand

NOW = 1724830400.0
DATE = "Aug 28 07:33:20 UTC 2024"
A = "eessi-2023.06-software-linux-x86_64-amd-zen2-1724830000.tar.gz"


@pytest.mark.parametrize(("uploaded", "reason", "row"), [
    (True, None, Row(DATE, "uploaded", f"transfer of `{A}` to S3 bucket succeeded")),
    (True, "ignored", Row(DATE, "uploaded", f"transfer of `{A}` to S3 bucket succeeded")),
    (False, None, Row(DATE, "not uploaded", f"transfer of `{A}` to S3 bucket failed")),
    (False, "", Row(DATE, "not uploaded", f"transfer of `{A}` to S3 bucket failed")),
    (False, "AccessDenied", Row(DATE, "not uploaded", f"transfer of `{A}` to S3 bucket failed (AccessDenied)")),
    (False, "a | b\nc", Row(DATE, "not uploaded", f"transfer of `{A}` to S3 bucket failed (a ¦ b c)")),
], ids=["succeeded", "succeeded-reason-ignored", "failed", "failed-empty-reason", "failed-reason",
        "reason-made-one-cell"])
def test_upload_row_as_eessi(uploaded: bool, reason: Optional[str], row: Row) -> None:
    assert upload_row(NOW, A, uploaded, reason) == row


@pytest.mark.parametrize("artefact", ["a`b`c.tar.gz", "x|y", "line\nbreak", "<!-- eessi-bot:x -->"],
                         ids=["backticks", "pipe", "newline", "marker"])
def test_untrusted_names_stay_in_their_cell(artefact: str) -> None:
    row = upload_row(NOW, artefact, False, "the name is odd")
    rendered = table([row]).splitlines()[-1]
    assert rendered.startswith(f"|{DATE}|not uploaded|transfer of ") and rendered.endswith("(the name is odd)|")
    assert rendered.replace("\\|", "").count("|") == 4 and "\n" not in rendered and "<!--" not in rendered


def test_safe_reason_is_capped() -> None:
    text = safe_reason("x" * (MAX_REASON * 3))
    assert len(text) == MAX_REASON + 2 and text.endswith(" …")


def items() -> list:
    candidates = [cand(1, ZEN2), cand(2, ZEN2), cand(3, ZEN2_GPU), cand(4, ZEN4),
                  cand(5, ZEN4, "x.tar.gz; touch PWNED"), cand(6, ZEN4, "a`|b"), cand(7, ZEN4, "../../etc/passwd")]
    decisions = select("latest", candidates, History())
    states = {"2": (UPLOADED, None), "3": (FAILED, "AccessDenied: bucket policy | denies\nit"), "4": (WAITING, None)}
    result = []
    for d in decisions:
        if not d.upload:
            result.append(DeployItem(d))
            continue
        state, error = states[d.candidate.job_id]
        result.append(DeployItem(d, "eessi-staging", f"2023.06/{d.candidate.artefact}", state, error))
    return result


def test_golden_summary() -> None:
    assert_golden("deploy/summary.md", render_deploy_summary("bot-aws", "maintainer", "latest", items()))


def test_golden_summary_nothing() -> None:
    assert_golden("deploy/summary_empty.md", render_deploy_summary("bot-aws", "maintainer", "once", []))


def test_summary_tables_keep_their_columns() -> None:
    """Untrusted names cannot add or close a cell: 6 columns above "Skipped:", 4 below."""
    text = render_deploy_summary("bot`aws", "maintainer", "latest", items())
    chosen, skipped = text.split("Skipped:")
    for part, pipes in ((chosen, 7), (skipped, 5)):
        rows = [line for line in part.splitlines() if line.startswith("|")]
        assert rows and all(line.replace("\\|", "").count("|") == pipes for line in rows)
    assert "``bot`aws``" in text and "<!--" not in text


def test_summary_counts() -> None:
    text = render_deploy_summary("bot", "m", "all", [DeployItem(Decision(cand(1), True)),
                                                      DeployItem(Decision(cand(2), False, "why"))])
    assert text.splitlines()[0].endswith("1 to upload, 1 skipped.") and "|`2`|" in text and "|why|" in text
