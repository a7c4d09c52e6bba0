"""Rules that relate several settings: node types ↔ repos.cfg, per-repo deploy maps ↔ repo ids."""

from __future__ import annotations

from typing import List, Mapping

from eessi_bot.core.config.model import Config, RepoDefinition
from eessi_bot.core.config.problems import Problem, Severity
from eessi_bot.core.config.repos import LEGACY_REPO_IDS


def cross_check(config: Config, repos: Mapping[str, RepoDefinition]) -> List[Problem]:
    """Problems of references between settings. An unknown repo target is an error, not skipped."""
    problems: List[Problem] = []
    known = set(repos) | set(LEGACY_REPO_IDS)
    for node in config.node_types:
        for repo_id in node.repo_targets:
            if repo_id not in known:
                problems.append(Problem(
                    Severity.ERROR, "architecturetargets", "node_type_map",
                    f"node type '{node.name}' targets repository '{repo_id}', which repos.cfg does not define",
                    hint="add a [" + repo_id + "] section to " + str(config.repos_cfg_dir / "repos.cfg")
                    + " or fix the name; defined: " + (", ".join(sorted(repos)) or "none"),
                ))
    targeted = {r for node in config.node_types for r in node.repo_targets} | set(repos)
    deploy = config.deploy
    for key, mapping in (("bucket_name", deploy.bucket_name), ("metadata_prefix", deploy.metadata_prefix),
                         ("artefact_prefix", deploy.artefact_prefix), ("signing", deploy.signing)):
        for repo_id in mapping:
            if repo_id != "*" and repo_id not in targeted:
                problems.append(Problem(
                    Severity.ERROR, "deploycfg", key,
                    f"names repository '{repo_id}', which is neither in repos.cfg nor a repo target",
                    hint="known: " + (", ".join(sorted(targeted)) or "none"),
                ))
    if deploy.upload_policy != "none":
        for repo_id in sorted(targeted):
            if "*" not in deploy.bucket_name and repo_id not in deploy.bucket_name:
                problems.append(Problem(
                    Severity.WARNING, "deploycfg", "bucket_name",
                    f"has no bucket for repository '{repo_id}'; its artefacts cannot be uploaded"))
    return problems
