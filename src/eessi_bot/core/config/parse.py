"""`parse_config`: app.cfg text (plus the environment) to a `Config` and every problem found."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

from eessi_bot.core.config.defaults import (
    DEFAULT_API_URL,
    DEFAULT_DATA_DIR,
    DEFAULT_JOB_NAME,
    DEFAULT_POLL_INTERVAL,
    TEMPLATES,
    backend_defaults,
)
from eessi_bot.core.config.layout import Layout, locate
from eessi_bot.core.config.model import (
    BotControl,
    BotSettings,
    ChatLevel,
    CleanUp,
    Config,
    GitHubSettings,
    JobManagerConfig,
)
from eessi_bot.core.config.nodes import parse_node_types
from eessi_bot.core.config.problems import Problem, Severity
from eessi_bot.core.config.reader import Reader
from eessi_bot.core.config.sections import read_buildenv, read_deploycfg

PLACEHOLDER_PATH = Path("/nonexistent")
"""Stands in for a path that is missing or invalid (an error was recorded for it)."""
SECRET_ENV = "GITHUB_APP_SECRET_TOKEN"  # noqa: S105 (a variable name, not a secret)
INTAKE_MODES = ("webhook", "poll", "both")

KNOWN_SECTIONS = (
    "github", "bot", "bot_control", "buildenv", "deploycfg", "architecturetargets", "repo_targets",
    "event_handler", "job_manager", "submitted_job_comments", "new_job_comments", "running_job_comments",
    "finished_job_comments", "download_pr_comments", "clean_up",
)

REMOVED_KEYS = {
    ("architecturetargets", "arch_target_map"):
        "was replaced by node_type_map in EESSI bot v0.9.0: describe each node type with its os, "
        "cpu_subdir, slurm_params and repo_targets",
    ("repo_targets", "repo_target_map"):
        "was replaced in EESSI bot v0.9.0: list the repositories in \"repo_targets\" of each node type "
        "in [architecturetargets] node_type_map",
    ("submitted_job_comments", "initial_comment"):
        "was replaced in EESSI bot v0.9.0 by new_job_instance_repo, build_on_arch, build_for_arch and "
        "jobdir (all have defaults, so simply remove it)",
}
_SILENTLY_KNOWN = {
    ("submitted_job_comments", "awaits_release"),
    ("download_pr_comments", "curl_failure"),
    ("download_pr_comments", "curl_tip"),
}
RETIRED_KEYS = {
    ("new_job_comments", "awaits_lauch"):
        "is not read: EESSI bot versions of April 2023 read this misspelling; the setting is awaits_launch",
}
"""Keys that old EESSI configurations hold and that look like typos of known ones: noted, never errors."""


def parse_config(text: str, env: Mapping[str, str], cpu_count: int) -> Tuple[Optional[Config], List[Problem]]:
    """Parse app.cfg text into a Config and every problem found.

    The Config is None only when the text is not INI at all. When a problem is an error, the Config
    holds placeholders for the broken values: it is good for further checks (so check-config can
    report everything at once), never for running the bot. What the machine says comes in as
    arguments, so that parsing reads nothing but `text`: `env` supplies `$VAR`/`~` expansion of paths
    and the webhook secret's fallback variable, `cpu_count` the default of `[buildenv] local_max_jobs`.
    """
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation(), strict=True)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        return None, ini_problems(exc)
    layout = Layout(text)
    reader = Reader(parser, env, layout)
    for (section, key), hint in REMOVED_KEYS.items():
        if parser.has_option(section, key):
            reader.seen.add((section, key))
            reader.error(section, key, "is no longer supported", hint=hint)
    for (section, key), message in RETIRED_KEYS.items():
        if parser.has_option(section, key):
            reader.note(section, key, message)
    reader.seen.update(_SILENTLY_KNOWN | set(RETIRED_KEYS))
    config = _build(reader, cpu_count)
    reader.unknown_keys(KNOWN_SECTIONS, set(REMOVED_KEYS) | _SILENTLY_KNOWN | set(RETIRED_KEYS))
    return config, locate(reader.problems, layout)


def ini_problems(exc: configparser.Error) -> List[Problem]:
    """What configparser refused, at its line: one problem per line it could not read."""
    def problem(message: str, line: Optional[int]) -> Problem:
        return Problem(Severity.ERROR, "", "", f"is not a valid INI file: {message}", line=line)

    if isinstance(exc, configparser.MissingSectionHeaderError):
        return [problem("a setting comes before the first [section] header", exc.lineno)]
    if isinstance(exc, configparser.DuplicateOptionError):
        return [problem(f"[{exc.section}] {exc.option} is set a second time; keep one", exc.lineno)]
    if isinstance(exc, configparser.DuplicateSectionError):
        return [problem(f"[{exc.section}] appears a second time; merge the two sections", exc.lineno)]
    if isinstance(exc, configparser.ParsingError):
        return [problem("this line is neither a [section], a 'key = value' nor an indented continuation of a value",
                        line) for line, _text in exc.errors]
    message = re.sub(r"\s+", " ", str(exc)).strip()
    return [problem(message, None)]


def _build(r: Reader, cpu_count: int) -> Config:
    github = _github(r)
    jobs_base_dir = r.path("buildenv", "jobs_base_dir", required=True,
                           hint="where job directories are made, e.g. /project/bot/jobs")
    repos_cfg_dir = r.path("repo_targets", "repos_cfg_dir", required=True,
                           hint="the directory holding repos.cfg")
    base = jobs_base_dir or PLACEHOLDER_PATH
    buildenv = read_buildenv(r, base, DEFAULT_JOB_NAME, cpu_count)
    deploy = read_deploycfg(r)
    node_types = parse_node_types(r)
    bot = BotSettings(
        data_dir=r.path("bot", "data_dir", DEFAULT_DATA_DIR) or Path("/"),
        log_format=r.choice("bot", "log_format", ("text", "json"), "text"),
        status_token=r.text("bot", "status_token"),
        workers=r.integer("bot", "workers", 4, minimum=1),
        event_handler_log=r.path("event_handler", "log_path"),
    )
    control = BotControl(
        command_permission=r.permission("bot_control", "command_permission"),
        chatlevel=ChatLevel[r.choice("bot_control", "chatlevel",
                                     tuple(level.name.lower() for level in ChatLevel), "basic").upper()],
    )
    job_manager = JobManagerConfig(
        poll_interval=r.integer("job_manager", "poll_interval", DEFAULT_POLL_INTERVAL, minimum=1,
                                hint="seconds between two looks at the queue"),
        poll_command=r.split_args("job_manager", "poll_command", r.text("job_manager", "poll_command",
                                                                        "squeue")) or ("squeue",),
        scontrol_command=r.split_args("job_manager", "scontrol_command",
                                      r.text("job_manager", "scontrol_command", "scontrol")) or ("scontrol",),
        scancel_command=r.split_args("job_manager", "scancel_command",
                                     r.text("job_manager", "scancel_command", "scancel")) or ("scancel",),
        sacct_command=r.split_args("job_manager", "sacct_command",
                                   r.text("job_manager", "sacct_command", "sacct")) or ("sacct",),
        job_ids_dir=r.path("job_manager", "job_ids_dir") or base / "job_ids",
        log_path=r.path("job_manager", "log_path"),
    )
    clean_up = CleanUp(
        trash_bin_dir=r.path("clean_up", "trash_bin_dir") or base / "trash_bin",
        cancel_on_close=r.boolean("clean_up", "cancel_on_close", False),
        keep_deliveries_days=r.integer("clean_up", "keep_deliveries_days", 30, minimum=0),
        keep_jobs_days=r.integer("clean_up", "keep_jobs_days", 0, minimum=0),
        keep_trash_days=r.integer("clean_up", "keep_trash_days", 0, minimum=0),
    )
    templates = {spec.name: r.template(spec.section, spec.key, spec.default, spec.fields,
                                       spec.required_fields) for spec in TEMPLATES}
    templates.update(backend_defaults(spec.name for spec in TEMPLATES if not _written(r, spec.section, spec.key)))
    return Config(github=github, bot=bot, bot_control=control, buildenv=buildenv, deploy=deploy,
                  node_types=node_types, repos_cfg_dir=repos_cfg_dir or PLACEHOLDER_PATH, job_manager=job_manager,
                  clean_up=clean_up, templates=templates)


def _written(r: Reader, section: str, key: str) -> bool:
    """Whether app.cfg gives the key a value (quotes alone are none): such a template is used as written."""
    return bool(r.parser.get(section, key, raw=True, fallback="").strip().strip("\"'"))


def _github(r: Reader) -> GitHubSettings:
    s = "github"
    app_id = r.integer(s, "app_id", 0, minimum=1, required=True,
                       hint="the App ID shown on the GitHub App's settings page")
    app_name = r.text(s, "app_name", required=True,
                      hint="a short instance name, shown in comments and matched by 'instance:'")
    if app_name and not re.match(r"^[A-Za-z0-9_.-]+$", app_name):
        r.error(s, "app_name", "may only hold letters, digits, '_', '.' and '-'", app_name)
    installation_id = r.integer(s, "installation_id", 0, minimum=1, required=True,
                                hint="the id in the App installation's URL or in any webhook payload")
    private_key = r.path(s, "private_key", required=True,
                         hint="path of the .pem file generated for the GitHub App")
    api_url = r.text(s, "api_url", DEFAULT_API_URL).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", api_url):
        r.error(s, "api_url", "must be an http:// or https:// URL", api_url,
                "https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise")
    secret = r.text(s, "webhook_secret") or r.env.get(SECRET_ENV, "")
    if not secret:
        r.error(s, "webhook_secret", "no webhook secret is configured",
                hint=f"set [github] webhook_secret or the environment variable {SECRET_ENV} to the "
                     "secret entered in the GitHub App's webhook settings")
    return GitHubSettings(app_id=app_id, app_name=app_name, installation_id=installation_id,
                          private_key=private_key or PLACEHOLDER_PATH, api_url=api_url, webhook_secret=secret,
                          max_writes_per_minute=r.integer(s, "max_writes_per_minute", 80, minimum=1),
                          max_writes_per_hour=r.integer(s, "max_writes_per_hour", 500, minimum=1),
                          intake=r.choice(s, "intake", INTAKE_MODES, "webhook"),
                          poll_interval_deliveries=r.integer(
                              s, "poll_interval_deliveries", 15, minimum=1,
                              hint="seconds between two looks at the App's log of webhook deliveries"),
                          recover_deliveries_hours=r.integer(
                              s, "recover_deliveries_hours", 72, minimum=0,
                              hint="hours back to recover deliveries GitHub could not deliver; 0 turns it off"),
                          check_runs=r.boolean(s, "check_runs", True))
