"""The `bot:deploy` label: recorded for someone with deploy permission, refused on the PR for
anyone else, nothing with `upload_policy = none`; removing it stops what has not started."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.commands import default_registry
from eessi_bot.core.effects import CommentEffect
from eessi_bot.core.webhook import Delivery
from eessi_bot.events import default_router
from eessi_bot.events.context import EventContext
from tests.fakes.deploys import FakeDeploys
from tests.fakes.jobs import FakeJobs
from tests.fakes.site import write_site
from tests.fakes.webhooks import encode, pr_payload

REPO = "eessi/software-layer"
PR = 7


def handle(tmp_path: Path, action: str, label: str, sender: str, policy: str = "once",
           deploys: Optional[FakeDeploys] = None) -> tuple:
    extra = f"\n[deploycfg]\nupload_policy = {policy}\ndeploy_permission = release-manager\nbucket_name = b\n"
    config, problems = load_config(write_site(tmp_path, extra=extra), {"HOME": str(tmp_path)}, cpu_count=2)
    assert config is not None, problems
    payload = pr_payload(action, repo=REPO, number=PR, label=label, sender_login=sender)
    deploys = deploys or FakeDeploys()
    ctx = EventContext(delivery=Delivery("d-1", "pull_request", action, f"{REPO}#{PR}", encode(payload)),
                       payload=payload, config=config, registry=default_registry(), jobs=FakeJobs(), deploys=deploys,
                       received_at=0.0, log=logging.LoggerAdapter(logging.getLogger("test"), {}))
    outcomes = [handler(ctx) for handler in default_router().handlers("pull_request", action)]
    comments: List[str] = [e.body for e in ctx.effects.items if isinstance(e, CommentEffect)]
    return deploys.calls, comments, outcomes


def test_a_permitted_label_starts_a_deploy(tmp_path: Path) -> None:
    calls, comments, outcomes = handle(tmp_path, "labeled", "bot:deploy", "release-manager")
    assert calls == [("label_on", REPO, PR, "release-manager", "d-1")]
    assert comments == [] and "deploying (upload policy once)" in outcomes[0]


@pytest.mark.parametrize(("sender", "policy", "label", "refused"), [
    ("mallory", "once", "bot:deploy", True),
    ("release-manager", "none", "bot:deploy", False),
    ("release-manager", "once", "bot:deploy-later", False),
], ids=["no-permission", "policy-none", "other-label"])
def test_nothing_is_deployed(tmp_path: Path, sender: str, policy: str, label: str, refused: bool) -> None:
    calls, comments, _ = handle(tmp_path, "labeled", label, sender, policy)
    assert calls == []
    if refused:
        (comment,) = comments
        assert comment.startswith("Label `bot:deploy` has been set by user `mallory`, but this person does not "
                                  "have permission to trigger deployments")
    else:
        assert comments == []


def test_removing_the_label_stops_the_deploy(tmp_path: Path) -> None:
    calls, comments, outcomes = handle(tmp_path, "unlabeled", "bot:deploy", "anyone", deploys=FakeDeploys(stopped=2))
    assert calls == [("label_off", REPO, PR)] and comments == []
    assert "2 uploads that had not started are stopped" in outcomes[0]
