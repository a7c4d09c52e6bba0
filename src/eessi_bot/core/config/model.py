"""Typed, frozen configuration objects. Built once by `parse_config` and passed explicitly."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

from eessi_bot.core.job_env import DEFAULT_PATTERNS


class ChatLevel(enum.IntEnum):
    """How much the bot says on PRs (`[bot_control] chatlevel`), ordered as in the EESSI bot."""

    INCOGNITO = 0
    MINIMAL = 1
    BASIC = 2
    CHATTY = 3


@dataclass(frozen=True)
class Permission:
    """A login allow-list. Empty means nobody (check-config warns); `*` means everyone."""

    logins: frozenset[str] = frozenset()
    everyone: bool = False

    def allows(self, login: str) -> bool:
        return self.everyone or login in self.logins

    def describe(self) -> str:
        if self.everyone:
            return "everyone"
        if not self.logins:
            return "nobody"
        return ", ".join(sorted(self.logins))


@dataclass(frozen=True)
class GitHubSettings:
    app_id: int
    app_name: str
    installation_id: int
    private_key: Path
    api_url: str
    webhook_secret: str = field(repr=False)
    max_writes_per_minute: int = 80
    max_writes_per_hour: int = 500
    """Pace of comment/reaction writes: GitHub's secondary rate limits (raise them only for GHES)."""
    intake: str = "webhook"
    """How deliveries come in: `webhook` (POSTed to the bot), `poll` (read from the App's log of webhook
    deliveries, no inbound port needed) or `both`."""
    poll_interval_deliveries: int = 15
    """Seconds between two looks at the log of deliveries (`poll` and `both`)."""
    recover_deliveries_hours: int = 72
    """Deliveries GitHub could not deliver in the last this many hours are fetched and handled (0: off)."""
    check_runs: bool = True
    """One GitHub check run per job on the PR head it built (needs the App's Checks permission)."""

    @property
    def polls(self) -> bool:
        return self.intake in ("poll", "both")


@dataclass(frozen=True)
class BotSettings:
    data_dir: Path
    log_format: str = "text"
    status_token: str = field(default="", repr=False)
    workers: int = 4
    event_handler_log: Optional[Path] = None


@dataclass(frozen=True)
class BotControl:
    command_permission: Permission
    chatlevel: ChatLevel


@dataclass(frozen=True)
class NodeType:
    """One kind of build node of this site (`[architecturetargets] node_type_map`)."""

    name: str
    os: str
    cpu_subdir: str
    slurm_params: Tuple[str, ...]
    repo_targets: Tuple[str, ...]
    accel: Optional[str] = None


@dataclass(frozen=True)
class RepoDefinition:
    """One section of `repos_cfg_dir/repos.cfg`: a target repository jobs can build for."""

    repo_id: str
    repo_name: str = ""
    repo_version: str = ""
    config_bundle: str = ""
    config_map: Mapping[str, str] = field(default_factory=dict)
    container: str = ""


@dataclass(frozen=True)
class BuildEnv:
    jobs_base_dir: Path
    build_job_script: Optional[Path]
    job_backend: str
    job_name: str
    job_handover_protocol: str
    job_delay_begin_factor: float
    slurm_params: Tuple[str, ...]
    """Site-wide sbatch options, without `--hold` (the handover protocol adds what it needs)."""
    submit_command: Tuple[str, ...]
    build_permission: Permission
    allowed_exportvars: Tuple[str, ...]
    clone_git_repo_via: str
    job_comment_mode: str
    job_sandbox: str
    local_max_jobs: int
    """The local backend runs at most this many jobs at once (the others stay held)."""
    site_config: Mapping[str, str]
    """Values copied verbatim into `cfg/job.cfg [site_config]` (only the non-empty ones)."""
    job_environment: Tuple[str, ...] = DEFAULT_PATTERNS
    """Names and globs of the bot's variables jobs get beside the fixed set (`core.job_env`)."""

    @property
    def delayed_begin(self) -> bool:
        """Jobs start on their own after a delay instead of waiting for the bot's release (Slurm only:
        the local backend always holds and releases its jobs)."""
        return self.job_handover_protocol == "delayed_begin" and self.job_backend == "slurm"


@dataclass(frozen=True)
class DeployConfig:
    upload_policy: str
    deploy_permission: Permission
    endpoint_url: str
    bucket_name: Mapping[str, str]
    """Bucket per repo id; key `*` holds a bucket used for every repo (plain string in app.cfg)."""
    metadata_prefix: Mapping[str, str]
    artefact_prefix: Mapping[str, str]
    signing: Mapping[str, Mapping[str, str]]
    upload_method: str = "boto3"
    """`boto3` (the bot uploads) or `script` (the site's `artefact_upload_script` does, per artefact)."""
    upload_script: Optional[Path] = None


@dataclass(frozen=True)
class JobManagerConfig:
    poll_interval: int
    poll_command: Tuple[str, ...]
    scontrol_command: Tuple[str, ...]
    """May hold `%(jobid)s`, `%(cluster)s`, ... filled per job (multi-cluster Slurm)."""
    scancel_command: Tuple[str, ...]
    sacct_command: Tuple[str, ...]
    job_ids_dir: Path
    log_path: Optional[Path] = None


@dataclass(frozen=True)
class CleanUp:
    trash_bin_dir: Path
    cancel_on_close: bool
    keep_deliveries_days: int
    keep_jobs_days: int
    keep_trash_days: int


@dataclass(frozen=True)
class Config:
    """Everything the bot knows about its site. Message templates live in `templates`."""

    github: GitHubSettings
    bot: BotSettings
    bot_control: BotControl
    buildenv: BuildEnv
    deploy: DeployConfig
    node_types: Tuple[NodeType, ...]
    repos_cfg_dir: Path
    job_manager: JobManagerConfig
    clean_up: CleanUp
    templates: Mapping[str, str]
    """`section.key` → template text (every one has a built-in default)."""
    repos: Mapping[str, RepoDefinition] = field(default_factory=dict)
    """Filled from `repos.cfg` by the file adapter; empty when parsed from text alone."""
    source: Optional[Path] = None
    """The app.cfg this was read from (set by the file adapter): a sandboxed job must not see it."""

    @property
    def instance(self) -> str:
        return self.github.app_name

    def template(self, name: str) -> str:
        return self.templates[name]
