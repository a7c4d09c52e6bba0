"""`eessi-bot check-config`: validate app.cfg and explain what this instance will do."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Sequence, TextIO

from eessi_bot.adapters.config_files import UNREADABLE, load_config
from eessi_bot.adapters.local_jobs import time_limit_seconds
from eessi_bot.core.config import Config, Problem, Severity
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.core.job_env import FIXED
from eessi_bot.ports.scheduler import SubmitError


def summary(config: Config) -> List[str]:
    """What this instance will do, in the words of its backend: the local backend has no sbatch, no
    handover protocol and uses only `--time` of `slurm_params` (as the time limit), so it lists that."""
    b = config.buildenv
    local = b.job_backend == "local"
    backend = (f"local (jobs run as processes of this machine, at most {b.local_max_jobs} at once; of slurm_params "
               "only --time is used, as the time limit)" if local
               else f"{b.job_backend} (handover {b.job_handover_protocol}, job name {b.job_name})")
    lines = [
        f"instance:            {config.instance} (GitHub App {config.github.app_id}, installation "
        f"{config.github.installation_id}, API {config.github.api_url})",
        f"intake:              {_intake(config.github)}",
        f"job backend:         {backend}",
        f"jobs base dir:       {b.jobs_base_dir}",
        f"job environment:     {' '.join(FIXED)}, {' '.join(b.job_environment) or 'nothing else'} "
        "(secret-looking names never)",
        f"data dir:            {config.bot.data_dir}",
        f"chatlevel:           {config.bot_control.chatlevel.name.lower()}",
        f"command permission:  {config.bot_control.command_permission.describe()}",
        f"build permission:    {b.build_permission.describe()}",
        f"deploy permission:   {config.deploy.deploy_permission.describe()} "
        f"(upload policy {config.deploy.upload_policy})",
        f"repositories:        {', '.join(sorted(config.repos)) or 'none'}",
        f"node types ({len(config.node_types)}):",
    ]
    for node in config.node_types:
        accel = f", accel {node.accel}" if node.accel else ""
        how = (_time_limit((*b.slurm_params, *node.slurm_params)) if local
               else f"sbatch {' '.join(node.slurm_params) or '-'}")
        lines.append(f"  - {node.name}: {node.os} {node.cpu_subdir}{accel}; repos {', '.join(node.repo_targets)}; "
                     f"{how}")
    return lines


def _intake(github: GitHubSettings) -> str:
    """How deliveries come in, and what is recovered."""
    how = {"webhook": "webhooks (POST / on the bot's port)",
           "poll": f"GitHub's log of webhook deliveries, every {github.poll_interval_deliveries} s (no inbound port "
                   "needed)",
           "both": f"webhooks, and GitHub's log of webhook deliveries every {github.poll_interval_deliveries} s"}
    hours = github.recover_deliveries_hours
    recovery = f"failed deliveries of the last {hours} h recovered" if hours else "failed deliveries not recovered"
    return f"{how[github.intake]}; {recovery}"


def _time_limit(options: Sequence[str]) -> str:
    """The local backend's time limit of a node type's jobs, in sbatch's `[D-]HH:MM:SS`."""
    try:
        seconds = time_limit_seconds(options)
    except SubmitError as exc:
        return f"{exc}, so its jobs will be refused"
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"time limit {days}-{text}" if days else f"time limit {text}"


def run(config_path: Path, out: TextIO, err: Optional[TextIO] = None) -> int:
    """The report on stdout; exit 1 when the bot cannot start. A file that cannot be read at all gets its
    one line on stderr instead of a report."""
    config, problems = load_config(config_path)
    if config is None and len(problems) == 1 and problems[0].message.startswith(UNREADABLE):
        (err or sys.stderr).write(problems[0].render() + "\n")
        return 1
    for problem in _sorted(problems):
        out.write(problem.render() + "\n")
    if config is None:
        count = sum(1 for p in problems if p.severity is Severity.ERROR)
        out.write(f"{config_path}: {count} error(s); the bot cannot start with this configuration\n")
        return 1
    for line in summary(config):
        out.write(line + "\n")
    out.write(f"{config_path}: OK\n")
    return 0


def _sorted(problems: List[Problem]) -> List[Problem]:
    """Errors first, then warnings, then notes; each in file order (problems without a line first)."""
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
    return sorted(problems, key=lambda p: (order[p.severity], p.file or "", p.line or 0))
