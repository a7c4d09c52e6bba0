"""Files the bot writes into a job directory: `cfg/job.cfg`, `cfg/export_vars.sh`, `cfg/sandbox.cfg`,
the metadata file.

`job.cfg` is byte-compatible with the EESSI bot's (reference §5.4): the target repository's
`bot/*.sh` scripts read it.
"""

from __future__ import annotations

import configparser
import io
import shlex
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from eessi_bot.core.config.model import Config, RepoDefinition
from eessi_bot.core.jobs import Checkout
from eessi_bot.core.targets import Target

CFG_DIR = "cfg"
JOB_CFG = "job.cfg"
EXPORT_VARS = "export_vars.sh"
SANDBOX_CFG = "sandbox.cfg"


def _ini(sections: Mapping[str, Mapping[str, str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for name, values in sections.items():
        parser[name] = dict(values)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def render_job_cfg(target: Target, site_config: Mapping[str, str], repo: Optional[RepoDefinition],
                   job_cfg_dir: Path) -> str:
    """`cfg/job.cfg`: [site_config] as configured, [repository] from repos.cfg, [architecture]."""
    repository = {"repos_cfg_dir": str(job_cfg_dir), "repo_id": target.repo_id}
    if repo is not None:
        for key, value in (("container", repo.container), ("repo_name", repo.repo_name),
                           ("repo_version", repo.repo_version)):
            if value:
                repository[key] = value
    architecture = {
        "node_type": target.node.name,
        "software_subdir": target.software_subdir,
        "os_type": target.node.os,
        "accelerator": target.accelerator or "",
    }
    return _ini({"site_config": site_config, "repository": repository, "architecture": architecture})


def render_export_vars(exports: Sequence[str]) -> str:
    """`cfg/export_vars.sh`: one `export NAME=value` per allowed `exportvariable:` (values quoted)."""
    lines = []
    for item in exports:
        name, _, value = item.partition("=")
        lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines)


def sandbox_hidden(config: Config, homes: Sequence[str]) -> List[str]:
    """What a sandboxed job must not see: the bot's data dir (its database), its app.cfg, the App's
    private key, the signing keys and the bot's home (`homes`: ~/.aws, ~/.ssh and the like)."""
    paths = [str(config.bot.data_dir), str(config.github.private_key)]
    if config.source is not None:
        paths.append(str(config.source))
    paths += [entry["key"] for _, entry in sorted(config.deploy.signing.items()) if entry.get("key")]
    paths += [home for home in homes if home.startswith("/") and home.strip("/")]
    return list(dict.fromkeys(paths))


def render_sandbox_cfg(hidden: Sequence[str]) -> str:
    """`cfg/sandbox.cfg` (`job_sandbox = bwrap`): the job script reads it before any PR code runs and runs
    the PR's bot/*.sh in bubblewrap with these paths hidden. One `key = value` per line, read by bash:
    a path with a line break cannot be written (ValueError)."""
    lines = ["# eessi-bot: [buildenv] job_sandbox = bwrap; the job script hides these paths from bot/*.sh",
             "sandbox = bwrap"]
    for path in hidden:
        if "\n" in path or "\r" in path:
            raise ValueError(f"cannot hide a path with a line break from sandboxed jobs: {path!r}")
        lines.append(f"hide = {path}")
    return "\n".join(lines) + "\n"


def render_metadata(repo: str, pr_number: int, comment_id: int, checkout: Checkout) -> str:
    """`_bot_job<ID>.metadata` (reference §5.7), plus the SHAs that were built.

    `pr_comment_id` is -1 until the job's comment exists (the EESSI bot's value for "unknown").
    """
    return _ini({"PR": {
        "repo": repo, "pr_number": str(pr_number), "pr_comment_id": str(comment_id),
        "base_ref": checkout.base_ref, "base_sha": checkout.base_sha, "head_sha": checkout.head_sha,
    }})


def metadata_name(job_id: str) -> str:
    return f"_bot_job{job_id}.metadata"
