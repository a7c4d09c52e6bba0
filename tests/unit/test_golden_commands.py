"""The response comments of commands, pinned as golden files under tests/golden/commands/.

Each case posts one PR comment through `eessi_bot.events.issue_comment.on_comment_created` with an
`EventContext` over a site written by `tests.fakes.site` and the recording `tests.fakes.jobs.FakeJobs`
(no database, no git, no processes), and compares the comment the bot would post, byte for byte, with
its golden file. A change of what a maintainer reads on the PR therefore shows up as a diff of a plain
file.

After an intended change, rewrite the files and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_golden_commands.py
    git diff tests/golden/commands/
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.commands import default_registry
from eessi_bot.core.config import Config
from eessi_bot.core.effects import CommentEffect, ReactionEffect
from eessi_bot.core.jobs import JobState, JobView, Row
from eessi_bot.core.markdown import fenced
from eessi_bot.core.webhook import Delivery
from eessi_bot.events import default_router
from eessi_bot.events.context import EventContext
from eessi_bot.events.issue_comment import on_comment_created
from eessi_bot.ports.jobs import Request
from tests.fakes.deploys import FakeDeploys
from tests.fakes.jobs import Call, FakeJobs, make_job
from tests.fakes.site import NODE_TYPE_MAP_WITH_GPU as NODE_TYPE_MAP
from tests.fakes.site import write_site
from tests.fakes.webhooks import encode, pr_comment_payload, pr_payload
from tests.golden import GOLDEN_DIR, assert_golden, updating

REPO = "EESSI/software-layer"
PR = 42
COMMENT_ID = 2_345_678_901
DELIVERY_ID = "18fa2650-5cd1-11ec-89c7-a0e0f4a35775"
T0 = datetime(2025, 8, 28, 10, 0, 0, tzinfo=timezone.utc).timestamp()
COMPAT, SOFTWARE = "eessi.io-2023.06-compat", "eessi.io-2023.06-software"
HEAD_SHA = "8c3f0e5ab1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6"
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
COMMENTS = f"https://github.com/{REPO}/pull/{PR}#issuecomment-"


MAINTAINER = "maintainer"
CONTRIBUTOR = "contributor"
"""May send commands, may not build or cancel."""
STRANGER = "stranger"
"""May not send commands."""

SBATCH_ERROR = ("sbatch: error: Batch job submission failed: Invalid partition name specified\n"
                "\n"
                "sbatch: error: partition `zen2` is down")
DOWNLOAD_ERROR = ("The PR cannot be merged into `2023.06-software.eessi.io` (it conflicts with the base branch):\n\n"
                  + fenced("CONFLICT (content): Merge conflict in easystacks/zen2.yml")
                  + "\n\nno jobs were prepared\nResolve the conflict and try again.")


@dataclass(frozen=True)
class Sites:
    basic: Config
    chatty: Config


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Sites:
    def load(chatlevel: str) -> Config:
        cfg = write_site(tmp_path_factory.mktemp(chatlevel), node_type_map=NODE_TYPE_MAP, chatlevel=chatlevel,
                         command_permission=f"{MAINTAINER} {CONTRIBUTOR}", build_permission=MAINTAINER)
        config, problems = load_config(cfg, {"HOME": "/home/bot", "USER": "bot"})
        assert config is not None, [p.render() for p in problems]
        return config

    return Sites(load("basic"), load("chatty"))


def minutes(n: float) -> float:
    return T0 + 60 * n


def date(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%b %d %H:%M:%S UTC %Y")


def view(node: str, repo_id: str, job_id: str, state: JobState, at: float, sha: str = HEAD_SHA,
         subdir: str = "x86_64/amd/zen2", result: str = "", linked: bool = True) -> JobView:
    rows = (Row(date(at), "submitted", f"job id `{job_id}` awaits release by job manager"),
            Row(date(at + 60), state.value, ""))
    job = make_job(node, repo_id, job_id, software_subdir=subdir, state=state, created_at=at, rows=rows,
                   repo=REPO, pr_number=PR)
    if result:
        job = replace(job, result_status=result, end_state="COMPLETED")
    return JobView(job, sha, COMMENTS + job_id if linked else None)


def built_twice() -> FakeJobs:
    """Yesterday's build has finished; today's is partly running."""
    yesterday = minutes(-24 * 60)
    return FakeJobs(views=[
        view("cpu_zen2", SOFTWARE, "1234001", JobState.FINISHED, yesterday, OLD_SHA, result="SUCCESS"),
        view("cpu_zen4", SOFTWARE, "1234002", JobState.FINISHED, yesterday, OLD_SHA, "x86_64/amd/zen4",
             result="FAILURE"),
        view("cpu_zen2", SOFTWARE, "1234567", JobState.RUNNING, T0),
        view("cpu_zen4", SOFTWARE, "1234568", JobState.SUBMITTED, T0, subdir="x86_64/amd/zen4", linked=False),
    ])


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    sender: str = MAINTAINER
    jobs: Callable[[], FakeJobs] = FakeJobs
    chatty: bool = False
    calls: Tuple[Tuple[str, Tuple[object, ...]], ...] = field(default=())
    """What the command asked of the jobs, minus the `Request` of `build` (checked by its own test)."""


CASES = [
    Case("help", "Please have a look\n\nbot: help"),
    Case("help_build", "bot: help build"),
    Case("help_nosuch", "bot: help nosuch"),
    Case("show_config", "bot: show_config"),
    Case("build_no_permission", "bot: build for:arch=x86_64/amd/zen2", sender=CONTRIBUTOR),
    Case("build_no_for", "bot: build repo:software"),
    Case("build_matches_nothing_chatty", "bot: build for:arch=x86_64/amd/zen4 repo:compat", chatty=True),
    Case("build_matches_nothing_addressed", "bot: build for:arch=x86_64/amd/zen4 repo:compat instance:test-bot"),
    Case("build_quiet_beside_status", "bot: build for:arch=aarch64/neoverse_v1\nbot: status",
         calls=(("for_pr", (REPO, PR)),)),
    Case("build_submission_failed", "bot: build for:arch=zen2 exportvariable:SKIP_TESTS=yes",
         jobs=lambda: FakeJobs(submit_errors={("cpu_zen2", COMPAT): SBATCH_ERROR}),
         calls=(("build", ((("cpu_zen2", COMPAT), ("cpu_zen2", SOFTWARE)), ("SKIP_TESTS=yes",))),)),
    Case("build_submitted_chatty", "bot: build for:arch=x86_64/amd/zen4,accel=nvidia/cc90", chatty=True,
         calls=(("build", ((("gpu_h100", SOFTWARE),), ())),)),
    Case("build_download_error", "bot: build for:arch=zen2 repo:software",
         jobs=lambda: FakeJobs(download_error=DOWNLOAD_ERROR),
         calls=(("build", ((("cpu_zen2", SOFTWARE),), ())),)),
    Case("build_export_not_allowed", "bot: build for:arch=zen2 exportvariable:EXTRA=--debug"),
    Case("build_bad_architecture", "bot: build for:arch=x86_64/../../etc"),
    Case("status_no_jobs", "bot: status", calls=(("for_pr", (REPO, PR)),)),
    Case("status", "bot: status", jobs=built_twice, calls=(("for_pr", (REPO, PR)),)),
    Case("status_last_build", "bot: status last_build", jobs=built_twice, calls=(("for_pr", (REPO, PR)),)),
    Case("status_bad_argument", "bot: status x"),
    Case("cancel_nothing", "bot: cancel", calls=(("cancel", (REPO, PR, None, MAINTAINER)),)),
    Case("cancel_all", "bot: cancel all", jobs=built_twice, calls=(("cancel", (REPO, PR, None, MAINTAINER)),)),
    Case("cancel_refused", "bot: cancel 1234567 job:1234001 999", jobs=built_twice,
         calls=(("cancel", (REPO, PR, ("1234001", "1234567", "999"), MAINTAINER)),)),
    Case("cancel_bad_id", "bot: cancel 12a"),
    Case("cancel_ids_and_all", "bot: cancel 1234567 all"),
    Case("cancel_no_permission", "bot: cancel all", sender=CONTRIBUTOR),
    Case("unknown_command", "bot: hlep"),
    Case("parse_error", "bot: build for:zen2"),
    Case("not_taken", "bot: show_config for:arch=zen2"),
    Case("no_command_permission", "bot: help\nbot: show_config", sender=STRANGER),
    Case("too_many_commands", "\n".join(["bot: help"] * 33)),
    Case("several_commands", "bot: help show_config instance:test\nbot: help instance:other\nbot: status\n"
                             "bot: nosuch", calls=(("for_pr", (REPO, PR)),)),
]


def run(sites: Sites, case: Case) -> Tuple[EventContext, FakeJobs]:
    """The context after handling the case's comment (its effects are what the bot would write), and
    the fake with the calls the commands made."""
    payload = pr_comment_payload(case.body, repo=REPO, pr_number=PR, comment_id=COMMENT_ID,
                                 sender_login=case.sender)
    delivery = Delivery(DELIVERY_ID, "issue_comment", "created", f"{REPO}#{PR}", encode(payload))
    jobs = case.jobs()
    ctx = EventContext(delivery=delivery, payload=payload, config=sites.chatty if case.chatty else sites.basic,
                       registry=default_registry(), jobs=jobs, deploys=FakeDeploys(), received_at=T0,
                       log=logging.LoggerAdapter(logging.getLogger("test_golden_commands"), {}))
    on_comment_created(ctx)
    return ctx, jobs


def handle(sites: Sites, case: Case) -> Tuple[List[str], FakeJobs]:
    """The bodies of the comments the bot would post, and the fake with the calls the commands made."""
    ctx, jobs = run(sites, case)
    return [e.body for e in ctx.effects.items if isinstance(e, CommentEffect)], jobs


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_response_matches_golden_file(sites: Sites, case: Case) -> None:
    (body,), _ = handle(sites, case)
    assert_golden(f"commands/{case.name}.md", body)


NO_MATCH = "no jobs were submitted: no node type of this instance matches"
QUIET = [
    # (case, what the instance posts or None, its reactions): a build no node type of this instance
    # matches is other instances' business unless `instance:` names this one; all else is answered
    (Case("other-arch", "bot: build for:arch=aarch64/neoverse_v1"), None, []),
    (Case("other-repo", "bot: build for:arch=x86_64/amd/zen4 repo:compat"), None, []),
    (Case("two-quiet-builds", "bot: build for:arch=aarch64/neoverse_v1\nbot: build for:arch=riscv64/generic"),
     None, []),
    (Case("beside-a-submitted-build", "bot: build for:arch=aarch64/neoverse_v1\nbot: build for:arch=zen2 repo:software",
          calls=(("build", ((("cpu_zen2", SOFTWARE),), ())),)), None, ["eyes"]),
    (Case("instance-named", "bot: build for:arch=aarch64/neoverse_v1 instance:test-bot"), NO_MATCH, ["eyes"]),
    (Case("instance-pattern", "bot: build for:arch=aarch64/neoverse_v1 inst:^test"), NO_MATCH, ["eyes"]),
    (Case("chatty", "bot: build for:arch=aarch64/neoverse_v1", chatty=True), NO_MATCH, ["eyes"]),
    (Case("no-build-permission", "bot: build for:arch=aarch64/neoverse_v1", sender=CONTRIBUTOR),
     "account `contributor` has NO permission to submit build jobs", ["eyes"]),
    (Case("export-not-allowed", "bot: build for:arch=aarch64/neoverse_v1 exportvariable:EXTRA=--debug"),
     "`exportvariable:EXTRA=--debug` is not allowed on this instance", ["eyes"]),
    (Case("no-for", "bot: build repo:nosuch"), "No 'for:' argument was passed", ["eyes"]),
]


@pytest.mark.parametrize(("case", "posted", "reactions"), QUIET, ids=[c.name for c, _, _ in QUIET])
def test_a_build_for_other_instances_is_not_answered(sites: Sites, case: Case, posted: Optional[str],
                                                     reactions: List[str]) -> None:
    """At chatlevel basic an instance none of whose node types matches posts nothing, as the EESSI
    bot's instances did: with six sites on a PR, five would otherwise answer every build."""
    ctx, jobs = run(sites, case)
    comments = [e.body for e in ctx.effects.items if isinstance(e, CommentEffect)]
    assert [e.content for e in ctx.effects.items if isinstance(e, ReactionEffect)] == reactions
    if posted is None:
        assert comments == []
    else:
        (body,) = comments
        assert posted in body
    assert tuple(summary(c) for c in jobs.calls) == case.calls


def summary(call: Call) -> Tuple[str, Tuple[object, ...]]:
    """A call with `build`'s request left out and its targets shortened to (node type, repo id)."""
    if call.method != "build":
        return call.method, call.args
    _, targets, exports = call.args
    return call.method, (tuple((t.node.name, t.repo_id) for t in targets), exports)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_commands_ask_the_jobs_for_what_was_written(sites: Sites, case: Case) -> None:
    """A refused or malformed command asks nothing of the jobs."""
    _, jobs = handle(sites, case)
    assert tuple(summary(c) for c in jobs.calls) == case.calls


def test_build_request_names_the_comment(sites: Sites) -> None:
    """The request keys the jobs: a retry of the same delivery and line finds them again."""
    _, jobs = handle(sites, Case("build", "text\nbot: build for:arch=zen2 repo:software"))
    (call,) = jobs.calls
    assert call.args[0] == Request(repo=REPO, number=PR, sender=MAINTAINER, comment_id=COMMENT_ID,
                                   comment_url=f"{COMMENTS}{COMMENT_ID}", delivery_id=DELIVERY_ID, line=1,
                                   received_at=T0)


@pytest.mark.parametrize(("sender", "reactions"), [(MAINTAINER, ["eyes"]), (STRANGER, [])],
                         ids=["allowed", "not-allowed"])
def test_accepted_comments_get_eyes(sites: Sites, sender: str, reactions: List[str]) -> None:
    payload = pr_comment_payload("bot: help", repo=REPO, pr_number=PR, comment_id=COMMENT_ID, sender_login=sender)
    ctx = EventContext(delivery=Delivery(DELIVERY_ID, "issue_comment", "created", None, encode(payload)),
                       payload=payload, config=sites.basic, registry=default_registry(), jobs=FakeJobs(),
                       deploys=FakeDeploys(), received_at=T0, log=logging.LoggerAdapter(logging.getLogger("test"), {}))
    on_comment_created(ctx)
    assert [e.content for e in ctx.effects.items if isinstance(e, ReactionEffect)] == reactions


def test_every_golden_command_file_has_a_case() -> None:
    """A golden file no case renders any more would pin nothing; delete it (or add its case)."""
    if updating():
        pytest.skip("rewriting golden files")
    on_disk: Dict[str, Path] = {p.stem: p for p in (GOLDEN_DIR / "commands").iterdir()}
    assert set(on_disk) == {c.name for c in CASES} | {name for name, _, _ in PR_EVENTS}


PR_EVENTS = [
    # (golden file, action, label): what the bot says on a PR without a command
    ("pr_opened", "opened", None),
    ("pr_labeled_bot_build", "labeled", "bot:build"),
]


@pytest.mark.parametrize(("name", "action", "label"), PR_EVENTS, ids=[e[0] for e in PR_EVENTS])
def test_pull_request_comment_matches_golden_file(sites: Sites, name: str, action: str, label: Optional[str]) -> None:
    """Opening a PR shows the node types (at chatty) in the layout `bot: show_config` uses."""
    payload = pr_payload(action, repo=REPO, number=PR, label=label, sender_login=MAINTAINER)
    ctx = EventContext(delivery=Delivery(DELIVERY_ID, "pull_request", action, f"{REPO}#{PR}", encode(payload)),
                       payload=payload, config=sites.chatty, registry=default_registry(), jobs=FakeJobs(),
                       deploys=FakeDeploys(), received_at=T0, log=logging.LoggerAdapter(logging.getLogger("test"), {}))
    default_router().handlers("pull_request", action)[0](ctx)
    (body,) = [e.body for e in ctx.effects.items if isinstance(e, CommentEffect)]
    assert_golden(f"commands/{name}.md", body)
