"""Which jobs a `bot: build` asks of this instance: one per matching (node type, repo target) pair.

The EESSI bot's rules (reference §3.3-3.4): `on:` (or, without it, `for:`) and `component:pattern`
filters select node types by `architecture` (the node's cpu_subdir), `accelerator` (the node's accel,
if it has one) and `repository` (its repo targets); a node type with an accelerator is only chosen
when an accelerator filter is given. Fixed here: `exportvariable:` no longer blocks every match, the
architecture a job builds for must be a clean path, and two node types no longer share a job directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from eessi_bot.core.arguments import ACCEL, ARCH, REPO, BuildFor, Filter
from eessi_bot.core.config.model import Config, NodeType
from eessi_bot.core.config.nodes import valid_subdir
from eessi_bot.core.markdown import code
from eessi_bot.core.pattern import is_literal


@dataclass(frozen=True)
class Target:
    """One job to make: built on `node` for `software_subdir` (and `accelerator`) into `repo_id`."""

    node: NodeType
    repo_id: str
    software_subdir: str
    accelerator: Optional[str]
    on_accelerator: Optional[str]
    """The accelerator pattern given for the build node (shown in the job comment), if exactly one."""

    @property
    def on_arch(self) -> str:
        """The node's architecture as the EESSI bot shows it: `x86_64/amd/zen4` → `amd-zen4`."""
        parts = self.node.cpu_subdir.split("/")
        return "-".join(parts[1:]) or parts[0]


@dataclass(frozen=True)
class Match:
    targets: Tuple[Target, ...]
    reasons: Tuple[str, ...]
    """Why node types were passed over (shown when nothing matched)."""


class TargetError(ValueError):
    """The build arguments cannot make a valid job (the message goes to the PR)."""


def concrete(source: str) -> bool:
    """No wildcard at all (`is_literal` allows `.`, which is also the any-character wildcard)."""
    return is_literal(source) and "." not in source


def build_arch(source: str) -> Optional[str]:
    """`for:arch` as a job's software_subdir when it is a full path (`x86_64/amd/zen2`), else None.

    A pattern (`zen2`, `amd`, `.*`) selects node types and leaves the subdir to the matched node.
    """
    if is_literal(source) and "/" in source and not valid_subdir(source):
        raise TargetError(f"{code(source)} is not a valid architecture path; write it like `x86_64/amd/zen2`")
    return source if concrete(source) and "/" in source else None


def match_targets(config: Config, for_: BuildFor, filters: Sequence[Filter]) -> Match:
    """The targets of a build for `for_`, in node-type order: the (node type, repo target) pairs that
    match every one of `filters`."""
    for_subdir = build_arch(for_.arch)
    for_accel = for_.accel
    if for_accel is not None and is_literal(for_accel) and not valid_subdir(for_accel):
        raise TargetError(f"{code(for_accel)} is not a valid accelerator; write it like `nvidia/cc90`")
    accel_filters = [f for f in filters if f.component == ACCEL]
    on_accel = accel_filters[0].source if len(accel_filters) == 1 else None
    targets: List[Target] = []
    reasons: List[str] = []
    for node in config.node_types:
        context: Dict[str, str] = {ARCH: node.cpu_subdir}
        if node.accel is not None:
            context[ACCEL] = node.accel
        for repo_id in node.repo_targets:
            reason = _mismatch(filters, {**context, REPO: repo_id}, has_accel_filter=bool(accel_filters))
            if reason:
                reasons.append(f"node type {code(node.name)}, repository {code(repo_id)}: {reason}")
                continue
            subdir = for_subdir or node.cpu_subdir
            accelerator = for_accel if for_accel is None or concrete(for_accel) else node.accel
            targets.append(Target(node, repo_id, subdir, accelerator, on_accel))
    return Match(tuple(targets), tuple(reasons))


def _mismatch(filters: Sequence[Filter], context: Dict[str, str], has_accel_filter: bool) -> Optional[str]:
    for item in filters:
        value = context.get(item.component)
        if value is None:
            return f"it has no {item.component}, but {code(str(item))} was asked for"
        if not item.matches(value):
            return f"{item.component} {code(value)} does not match {code(item.source)}"
    if ACCEL in context and not has_accel_filter:
        return (f"it has accelerator {code(context[ACCEL])}: builds on it need an accelerator, "
                f"e.g. `for:arch=...,accel={context[ACCEL]}`")
    return None


def offer(config: Config) -> List[str]:
    """What this instance builds, one line per node type (for 'no jobs were submitted' answers)."""
    lines = []
    for node in config.node_types:
        accel = f", accelerator {code(node.accel)}" if node.accel else ""
        repos = ", ".join(code(r) for r in node.repo_targets)
        lines.append(f"{code(node.name)}: {code(node.cpu_subdir)}{accel} for {repos}")
    return lines
