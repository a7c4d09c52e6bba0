"""Two bot instances on one PR, as EESSI runs one per site: at chatlevel basic only an instance that
builds something, or that `instance:` names, says anything on the PR."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.fakes.pipeline import PR, Pipeline
from tests.fakes.upstream import make_upstream

X86, ARM = "site-x86", "site-arm"
NODE_TYPES = {
    X86: """{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                          "repo_targets": ["eessi.io-2023.06-software"]}}""",
    ARM: """{"cpu_neoverse_v1": {"os": "linux", "cpu_subdir": "aarch64/neoverse_v1", "slurm_params": "-p arm",
                                 "repo_targets": ["eessi.io-2023.06-software"]}}""",
}
NO_MATCH = "no jobs were submitted: no node type of this instance matches"


@pytest.fixture
def instances(tmp_path: Path, bots: List[Pipeline]) -> Dict[str, Pipeline]:
    """Both instances at chatlevel basic, each with its own App, database and job tree, on PR #PR of
    one repository."""
    upstream = make_upstream(tmp_path / "remote")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    made: Dict[str, Pipeline] = {}
    for name, node_types in NODE_TYPES.items():
        bot = Pipeline(tmp_path / name, node_type_map=node_types, chatlevel="basic", app_name=name)
        bots.append(bot)
        bot.open_pr(upstream, head)
        made[name] = bot
    return made


def said(bot: Pipeline) -> Tuple[str, ...]:
    """What a maintainer sees of one instance on the PR, in a stable order: `job` for a new job
    comment, `no match` for the answer that nothing matches, `status` for a status answer (any other
    comment as it is), then `eyes` for the reaction."""
    seen = sorted("job" if body.startswith("New job on instance") else "no match" if NO_MATCH in body
                  else "status" if "handling command `status` resulted in" in body else body
                  for body in bot.bot_comments())
    return tuple(seen + bot.reactions())


@pytest.mark.parametrize(("command", "x86", "arm"), [
    ("bot: build for:arch=x86_64/amd/zen2", ("job", "eyes"), ()),
    ("bot: build for:arch=aarch64/neoverse_v1", (), ("job", "eyes")),
    ("bot: build for:arch=riscv64/generic", (), ()),
    (f"bot: build for:arch=x86_64/amd/zen2 instance:{ARM}", (), ("no match", "eyes")),
    ("bot: build for:arch=x86_64/amd/zen2 instance:site-", ("job", "eyes"), ("no match", "eyes")),
    ("bot: build for:arch=x86_64/amd/zen2\nbot: status", ("job", "status", "eyes"), ("status", "eyes")),
], ids=["x86-only", "arm-only", "nobody", "arm-addressed", "both-addressed", "with-status"])
def test_only_instances_with_something_to_say_comment(instances: Dict[str, Pipeline], command: str,
                                                      x86: Tuple[str, ...], arm: Tuple[str, ...]) -> None:
    for bot in instances.values():
        bot.comment(command)
    assert {name: said(bot) for name, bot in instances.items()} == {X86: x86, ARM: arm}


def test_addressed_instance_says_what_it_builds_on(instances: Dict[str, Pipeline]) -> None:
    instances[X86].comment(f"bot: build for:arch=x86_64/amd/zen2 instance:{ARM}")
    instances[ARM].comment(f"bot: build for:arch=x86_64/amd/zen2 instance:{ARM}")
    assert instances[X86].bot_comments() == []
    (answer,) = instances[ARM].bot_comments()
    assert f"Updates by the bot instance <code>{ARM}</code>" in answer
    assert "architecture `aarch64/neoverse_v1` does not match `x86_64/amd/zen2`" in answer
    assert "`cpu_neoverse_v1`: `aarch64/neoverse_v1` for `eessi.io-2023.06-software`" in answer
