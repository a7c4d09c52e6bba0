"""Target matching: every row of the EESSI bot's matching table (reference §3.4), ⚠ rows fixed."""

from __future__ import annotations

import dataclasses
from typing import List, Tuple

import pytest

from eessi_bot.commands.build import BuildArgs
from eessi_bot.commands.build import parse as parse_build
from eessi_bot.core.arguments import parse_arguments
from eessi_bot.core.config import NodeType
from eessi_bot.core.config.model import Config
from eessi_bot.core.targets import Match, TargetError, match_targets
from tests.fakes.pipeline import Pipeline

COMPAT, SOFTWARE = "eessi.io-2023.06-compat", "eessi.io-2023.06-software"
BOTH = (COMPAT, SOFTWARE)
EXAMPLE_NODES = (
    NodeType("cpu_zen2", "linux", "x86_64/amd/zen2", ("-p", "zen2"), BOTH),
    NodeType("cpu_zen4", "linux", "x86_64/amd/zen4", ("-p", "zen4"), BOTH, accel="None"),
    NodeType("gpu_a100", "linux", "x86_64/intel/icelake", ("-p", "a100"), BOTH, accel="nvidia/cc80"),
    NodeType("gpu_h100", "linux", "x86_64/amd/zen4", ("-p", "h100"), BOTH, accel="nvidia/cc90"),
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The node map of the EESSI bot's app.cfg.example (the one the reference table was run with)."""
    base = Pipeline(tmp_path_factory.mktemp("site")).config
    return dataclasses.replace(base, node_types=EXAMPLE_NODES)


def build_args(command: str) -> BuildArgs:
    return parse_build(parse_arguments(tuple(command.split())))


def match(config: Config, command: str) -> Match:
    """What `bot: build COMMAND` matches: the targets for its `for:`, selected by its node filters."""
    args = build_args(command)
    return match_targets(config, args.for_, args.node_filters)


def run(config: Config, command: str) -> List[Tuple[str, str]]:
    return [(t.node.name, t.repo_id) for t in match(config, command).targets]


def both(node: str) -> List[Tuple[str, str]]:
    return [(node, COMPAT), (node, SOFTWARE)]


TABLE = [
    ("for:arch=x86_64/amd/zen2", both("cpu_zen2")),
    ("for:arch=zen2", both("cpu_zen2")),
    ("for:arch=amd", both("cpu_zen2")),
    ("for:arch=x86_64-amd-zen2", both("cpu_zen2")),
    ("for:arch=x86_64/amd/zen4", []),
    ("for:arch=x86_64/amd/zen4 on:arch=zen4,accel=None", both("cpu_zen4")),
    ("for:arch=x86_64/amd/zen4,accel=nvidia/cc90", both("gpu_h100")),
    ("on:arch=zen4,accel=nvidia/cc90 for:arch=x86_64/amd/zen4,accel=nvidia/cc90", both("gpu_h100")),
    ("for:arch=icelake,accel=nvidia/cc80", both("gpu_a100")),
    ("for:arch=x86_64/amd/zen2 repo:software", [("cpu_zen2", SOFTWARE)]),
    ("for:arch=x86_64/amd/zen2 exportvariable:SKIP_TESTS=yes", both("cpu_zen2")),  # ⚠ matched nothing
    ("for:arch=.* on:arch=.*,accel=.*", both("cpu_zen4") + both("gpu_a100") + both("gpu_h100")),
    ("for:arch=x86_64/amd/zen2,acc=nvidia/cc80 on:arch=zen2", both("cpu_zen2")),
    ("arch:zen2 for:arch=zen2", both("cpu_zen2")),
    ("for:arch=aarch64/neoverse_v1", []),
]


@pytest.mark.parametrize(("command", "expected"), TABLE, ids=[c for c, _ in TABLE])
def test_matching_table(config: Config, command: str, expected: List[Tuple[str, str]]) -> None:
    assert run(config, command) == expected


@pytest.mark.parametrize(("command", "instance", "addressed"), [
    ("for:arch=x86_64/amd/zen2 inst:MY-bot", "MY-bot", True),
    ("for:arch=x86_64/amd/zen2 inst:other", "MY-bot", False),
])
def test_instance_rows(command: str, instance: str, addressed: bool) -> None:
    """`inst:` rows of the table: decided before matching, for every command."""
    assert parse_arguments(tuple(command.split())).addressed_to(instance) is addressed


@pytest.mark.parametrize(("command", "node", "subdir", "accel"), [
    ("for:arch=x86_64/amd/zen2", "cpu_zen2", "x86_64/amd/zen2", None),
    ("for:arch=zen2", "cpu_zen2", "x86_64/amd/zen2", None),
    ("for:arch=.* on:arch=zen4,accel=None", "cpu_zen4", "x86_64/amd/zen4", None),
    ("for:arch=x86_64/amd/zen2 on:arch=zen4,accel=None", "cpu_zen4", "x86_64/amd/zen2", None),
    ("for:arch=x86_64/amd/zen2,accel=nvidia/cc80 on:arch=zen2", "cpu_zen2", "x86_64/amd/zen2", "nvidia/cc80"),
    ("for:arch=zen4,accel=nvidia/cc.0", "gpu_h100", "x86_64/amd/zen4", "nvidia/cc90"),
])
def test_software_subdir(config: Config, command: str, node: str, subdir: str, accel: object) -> None:
    """The job builds for the for:arch path when it is one (cross-builds), else for the node's subdir."""
    (target, _) = match(config, command).targets
    assert (target.node.name, target.software_subdir, target.accelerator) == (node, subdir, accel)


@pytest.mark.parametrize("command", [
    "for:arch=../../etc/passwd",
    "for:arch=x86_64/../../x",
    "for:arch=x86_64/amd/zen2,accel=../nvidia",
])
def test_paths_cannot_escape(config: Config, command: str) -> None:
    with pytest.raises(TargetError, match="not a valid"):
        match(config, command)


def test_reasons_explain_a_miss(config: Config) -> None:
    missed = match(config, "for:arch=x86_64/amd/zen4")
    assert missed.targets == ()
    text = " ".join(missed.reasons)
    assert "node type `gpu_h100`, repository `eessi.io-2023.06-software`: it has accelerator `nvidia/cc90`" in text
    assert "architecture `x86_64/amd/zen2` does not match `x86_64/amd/zen4`" in text


def test_on_arch_display(config: Config) -> None:
    (target, _) = match(config, "for:arch=zen2").targets
    assert target.on_arch == "amd-zen2"
