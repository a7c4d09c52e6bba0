"""Build-argument grammar of the EESSI bot (reference §3.2-3.4), with its crashes turned into clear errors."""

from __future__ import annotations

from typing import Optional

import pytest

from eessi_bot.core.arguments import ArgumentError, ArgumentItems, BuildFor, Given, parse_arguments


def parse(text: str) -> ArgumentItems:
    return parse_arguments(tuple(text.split()))


EXPANDED = [
    # (command arguments, expanded format)
    ("", ""),
    ("last_build", "last_build"),
    ("=last_build", "=last_build"),
    ("for:arch=x86_64/amd/zen4,accel=nvidia/cc90", "for:architecture=x86_64/amd/zen4,accelerator=nvidia/cc90"),
    ("on:arch=zen4,accel=nvidia/cc90 for:arch=x86_64/amd/zen4,accel=nvidia/cc90",
     "on:architecture=zen4,accelerator=nvidia/cc90 for:architecture=x86_64/amd/zen4,accelerator=nvidia/cc90"),
    ("on:arch=x86_64/amd/zen4 for:arch=x86_64/amd/zen2 repo:eessi.io-2023.06-software",
     "on:architecture=x86_64/amd/zen4 for:architecture=x86_64/amd/zen2 repository:eessi.io-2023.06-software"),
    ("for:arch=x86_64/amd/zen2 exp:SKIP_TESTS=yes", "for:architecture=x86_64/amd/zen2 exportvariable:SKIP_TESTS=yes"),
    ("for:arch=x86_64-amd-zen2", "for:architecture=x86_64/amd/zen2"),
    ("for:architecture=zen2", "for:architecture=zen2"),
    ("for:arc=zen2", "for:architecture=zen2"),
    ("arch:zen2", "architecture:zen2"),
    ("for:arch=zen2 inst:MY-bot", "for:architecture=zen2 instance:MY-bot"),
    ("for:arch=.* on:arch=.*,accel=.*", "on:architecture=.*,accelerator=.* for:architecture=.*"),
    ("for:arch=x86_64/amd/zen2,acc=nvidia/cc80 on:arch=zen2",
     "on:architecture=zen2 for:architecture=x86_64/amd/zen2,accelerator=nvidia/cc80"),
    ("job:123 job:456", "job:123 job:456"),
    ("for:arch=zen[23]", "for:architecture=zen[23]"),
]


@pytest.mark.parametrize(("text", "expanded"), EXPANDED, ids=[t or "empty" for t, _ in EXPANDED])
def test_expanded_format(text: str, expanded: str) -> None:
    assert parse(text).expanded() == expanded


ERRORS = [
    # (arguments, words the message must contain) -- the ⚠ rows of §3.4 crashed the EESSI bot
    ("for:zen2", "should be NAME=VALUE"),
    ("for:arch=", "is empty"),
    ("for:a=zen2", "too short"),
    ("for:accel=nvidia/cc90", "needs the architecture"),
    ("for:", "nothing after the colon"),
    ("for:arch=zen2,colour=red", "not a known argument"),
    ("for:arch=zen2,arch=zen3", "given twice"),
    ("for:arch=zen2 for:arch=zen3", "only once"),
    ("on:arch=zen2 on:arch=zen3", "only once"),
    ("on:zen2", "should be NAME=VALUE"),
    ("repository:foo:bar", "one `:` only"),
    ("xx:yy", "too short"),
    ("ar:yy", "too short"),
    ("colour:red", "not a known argument"),
    ("repo:", "empty"),
    ("for:arch=zen2(", "zen2("),
    ("for:arch=(a)\\1", "backreference"),
    ("exportvariable:SKIP_TESTS", "NAME=VALUE"),
    ("exportvariable:1X=y", "NAME=VALUE"),
    ("inst:[", "["),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[t for t, _ in ERRORS])
def test_errors_are_plain_words(text: str, message: str) -> None:
    with pytest.raises(ArgumentError) as excinfo:
        parse(text)
    assert message in str(excinfo.value)


def test_too_many_arguments() -> None:
    with pytest.raises(ArgumentError, match="too many arguments"):
        parse(" ".join(f"w{i}" for i in range(41)))


@pytest.mark.parametrize(("text", "for_"), [
    ("for:arch=x86_64/amd/zen2", BuildFor("x86_64/amd/zen2")),
    ("for:arch=zen4,accel=nvidia/cc90", BuildFor("zen4", "nvidia/cc90")),
    ("repo:software", None),
])
def test_build_params(text: str, for_: Optional[BuildFor]) -> None:
    assert parse(text).for_ == for_


def test_exports_are_not_filters() -> None:
    """The EESSI bot turned exportvariable: into a filter that no node type matched (§3.3 ⚠)."""
    args = parse("for:arch=zen2 exportvariable:SKIP_TESTS=yes")
    assert args.exports == ("SKIP_TESTS=yes",)
    assert args.filters == () and args.component_filters == ()


@pytest.mark.parametrize(("text", "filters"), [
    ("for:arch=zen2", [("architecture", "zen2")]),
    ("for:arch=x86_64-amd-zen2,accel=nvidia/cc80",
     [("architecture", "x86_64/amd/zen2"), ("accelerator", "nvidia/cc80")]),
    ("for:arch=.*,accel=nvidia/.*", [("architecture", ".*"), ("accelerator", "nvidia/.*")]),
], ids=["arch", "arch-accel", "patterns"])
def test_build_for_as_node_filters(text: str, filters: list) -> None:
    """Without on:, for: doubles as the node filter (a native build): the node must match what is built for."""
    for_ = parse(text).for_
    assert for_ is not None
    assert [(f.component, f.source) for f in for_.filters()] == filters


GIVEN = [
    # (arguments, what a command's parser is offered, in the order a refusal names them)
    ("", []),
    ("inst:bot", []),
    ("last_build job:1 exp:A=b repo:x for:arch=zen2 on:arch=zen4 inst:bot",
     [("on", "on:..."), ("for", "for:architecture=zen2"), ("repository", "repository:x"),
      ("exportvariable", "exportvariable:A=b"), ("job", "job:1"), ("word", "last_build")]),
    ("arch:zen2 accel:nvidia", [("architecture", "architecture:zen2"), ("accelerator", "accelerator:nvidia")]),
]


@pytest.mark.parametrize(("text", "given"), GIVEN, ids=["empty", "instance-only", "every-kind", "filters"])
def test_given_in_expanded_order_without_instance(text: str, given: list) -> None:
    assert parse(text).given() == tuple(Given(kind, shown) for kind, shown in given)


@pytest.mark.parametrize(("text", "instance", "addressed"), [
    ("", "MY-bot", True),
    ("inst:MY-bot", "MY-bot", True),
    ("instance:MY", "MY-bot", True),
    ("inst:other", "MY-bot", False),
    ("inst:^MY$", "MY-bot", False),
    ("inst:MY inst:other", "MY-bot", False),
])
def test_instance_addressing(text: str, instance: str, addressed: bool) -> None:
    assert parse(text).addressed_to(instance) is addressed


def test_markdown_in_tokens_cannot_break_out() -> None:
    """Error messages quote the user's token in a code span that its backticks cannot close."""
    with pytest.raises(ArgumentError) as excinfo:
        parse("x`y:z")
    assert "``x`y:z``" in str(excinfo.value) or "`` x`y:z ``" in str(excinfo.value)
