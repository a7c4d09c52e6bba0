"""Each command's `parse`: the shared argument items become the command's own frozen type, or a refusal
the commenter can act on (the same words as before commands had their own types)."""

from __future__ import annotations

from typing import Callable, List, Tuple

import pytest

from eessi_bot.commands import build, cancel, show_config, status
from eessi_bot.commands import help as help_command
from eessi_bot.core.arguments import ArgumentError, ArgumentItems, parse_arguments


def items(text: str) -> ArgumentItems:
    return parse_arguments(tuple(text.split()))


def build_summary(args: build.BuildArgs) -> Tuple[str, List[str], List[str], Tuple[str, ...]]:
    """`for:`, `on:`, filters and exports as written in the expanded format (patterns do not compare)."""
    return str(args.for_), [str(f) for f in args.on], [str(f) for f in args.filters], args.exports


PARSED: List[Tuple[str, Callable[[ArgumentItems], object], str, object]] = [
    # (id, parse, arguments, what the handler gets)
    ("help", help_command.parse, "", help_command.HelpArgs(())),
    ("help-one", help_command.parse, "build", help_command.HelpArgs(("build",))),
    ("help-two", help_command.parse, "build status", help_command.HelpArgs(("build", "status"))),
    ("help-unknown-is-the-handlers-business", help_command.parse, "nosuch", help_command.HelpArgs(("nosuch",))),
    ("help-instance", help_command.parse, "inst:bot build", help_command.HelpArgs(("build",))),
    ("show_config", show_config.parse, "", show_config.ShowConfigArgs()),
    ("show_config-instance", show_config.parse, "instance:bot", show_config.ShowConfigArgs()),
    ("status", status.parse, "", status.StatusArgs(last_build=False)),
    ("status-last_build", status.parse, "last_build", status.StatusArgs(last_build=True)),
    ("status-instance", status.parse, "last_build instance:bot", status.StatusArgs(last_build=True)),
    ("cancel-no-argument-means-all", cancel.parse, "", cancel.CancelArgs(None)),
    ("cancel-all", cancel.parse, "all", cancel.CancelArgs(None)),
    ("cancel-ids", cancel.parse, "1234567 1234568", cancel.CancelArgs(("1234567", "1234568"))),
    ("cancel-job-items-first", cancel.parse, "2 job:1", cancel.CancelArgs(("1", "2"))),
    ("cancel-instance", cancel.parse, "inst:bot 7", cancel.CancelArgs(("7",))),
]


@pytest.mark.parametrize(("parse", "text", "expected"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse(parse: Callable[[ArgumentItems], object], text: str, expected: object) -> None:
    assert parse(items(text)) == expected


BUILDS = [
    # (arguments, (for, on, filters, exports))
    ("for:arch=x86_64/amd/zen2", ("for:architecture=x86_64/amd/zen2", [], [], ())),
    ("for:arch=x86_64-amd-zen2 repo:software", ("for:architecture=x86_64/amd/zen2", [], ["repository:software"], ())),
    ("on:arch=zen4,accel=nvidia/cc90 for:arch=x86_64/amd/zen4,accel=nvidia/cc90",
     ("for:architecture=x86_64/amd/zen4,accelerator=nvidia/cc90",
      ["architecture:zen4", "accelerator:nvidia/cc90"], [], ())),
    ("for:arch=zen2 exp:SKIP_TESTS=yes exportvariable:EXTRA=1",
     ("for:architecture=zen2", [], [], ("SKIP_TESTS=yes", "EXTRA=1"))),
    ("arch:zen2 for:arch=zen2 inst:bot", ("for:architecture=zen2", [], ["architecture:zen2"], ())),
]


@pytest.mark.parametrize(("text", "expected"), BUILDS, ids=[t for t, _ in BUILDS])
def test_parse_build(text: str, expected: Tuple[str, List[str], List[str], Tuple[str, ...]]) -> None:
    """`instance:` decides who answers; it is no filter of the build's targets."""
    assert build_summary(build.parse(items(text))) == expected


@pytest.mark.parametrize(("text", "components"), [
    ("for:arch=zen2", ["architecture"]),
    ("for:arch=zen2,accel=nvidia/cc80", ["architecture", "accelerator"]),
    ("on:arch=zen4 for:arch=zen2,accel=nvidia/cc80", ["architecture"]),
    ("for:arch=zen2 repo:software inst:MY", ["architecture", "repository"]),
    ("for:arch=zen2 exportvariable:SKIP_TESTS=yes", ["architecture"]),
], ids=["native", "native-accel", "on", "repo-not-instance", "export-is-no-filter"])
def test_node_filters_native_or_on(text: str, components: List[str]) -> None:
    """Without on:, for: doubles as the node filter (a native build); with on:, only on: selects nodes.
    The EESSI bot turned exportvariable: into a filter that no node type matched (§3.3 ⚠)."""
    assert [f.component for f in build.parse(items(text)).node_filters] == components


USAGE_BUILD = ("usage: `bot: build for:arch=ARCH[,accel=ACCEL] [on:arch=ARCH[,accel=ACCEL]] [repo:REPO] "
               "[exportvariable:NAME=VALUE]`")
REFUSED: List[Tuple[str, Callable[[ArgumentItems], object], str, str]] = [
    # (id, parse, arguments, the whole message)
    ("help-filter", help_command.parse, "for:arch=zen2",
     "`help` does not take `for:architecture=zen2`; usage: `bot: help [COMMAND]`"),
    ("help-job", help_command.parse, "job:1", "`help` does not take `job:1`; usage: `bot: help [COMMAND]`"),
    ("show_config-word", show_config.parse, "last_build",
     "`show_config` does not take `last_build`; usage: `bot: show_config`"),
    ("show_config-repo", show_config.parse, "repo:software",
     "`show_config` does not take `repository:software`; usage: `bot: show_config`"),
    ("status-word", status.parse, "x", "`status` does not take `x`; usage: `bot: status [last_build]`"),
    ("status-on", status.parse, "on:arch=zen2", "`status` does not take `on:...`; usage: `bot: status [last_build]`"),
    ("status-export", status.parse, "exp:SKIP_TESTS=yes",
     "`status` does not take `exportvariable:SKIP_TESTS=yes`; usage: `bot: status [last_build]`"),
    ("cancel-not-a-number", cancel.parse, "12a", "`12a` is not a job id; write job ids (numbers) or `all`"),
    ("cancel-job-not-a-number", cancel.parse, "job:x", "`x` is not a job id; write job ids (numbers) or `all`"),
    ("cancel-ids-and-all", cancel.parse, "1 all", "write either job ids or `all`, not both"),
    ("cancel-job-and-all", cancel.parse, "all job:1", "write either job ids or `all`, not both"),
    ("cancel-filter", cancel.parse, "repo:x 1",
     "`cancel` does not take `repository:x`; usage: `bot: cancel [JOB_ID ... | all]`"),
    ("build-no-for", build.parse, "", build.NO_FOR),
    ("build-no-for-but-repo", build.parse, "repo:software", build.NO_FOR),
    ("build-word", build.parse, "for:arch=zen2 last_build", f"`build` does not take `last_build`; {USAGE_BUILD}"),
    ("build-job", build.parse, "job:1", f"`build` does not take `job:1`; {USAGE_BUILD}"),
    # The first argument refused is the first one of the expanded format, whatever the order written.
    ("order-for-before-words", show_config.parse, "last_build for:arch=zen2",
     "`show_config` does not take `for:architecture=zen2`; usage: `bot: show_config`"),
    ("order-filters-before-words", status.parse, "x repo:software",
     "`status` does not take `repository:software`; usage: `bot: status [last_build]`"),
    ("order-on-first", show_config.parse, "repo:x on:arch=zen2", "`show_config` does not take `on:...`; "
     "usage: `bot: show_config`"),
]


@pytest.mark.parametrize(("parse", "text", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused(parse: Callable[[ArgumentItems], object], text: str, message: str) -> None:
    with pytest.raises(ArgumentError) as excinfo:
        parse(items(text))
    assert str(excinfo.value) == message
