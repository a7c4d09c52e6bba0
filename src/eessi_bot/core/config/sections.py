"""Readers for the `[buildenv]` and `[deploycfg]` sections, the two largest of app.cfg."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

from eessi_bot.core.config.model import BuildEnv, DeployConfig
from eessi_bot.core.config.reader import Reader
from eessi_bot.core.job_env import (
    DEFAULT_PATTERNS,
    EXPORT_HINT,
    export_message,
    pattern_problem,
    secret_warning,
    split_patterns,
    without_export,
)

SITE_CONFIG_KEYS = (
    "build_logs_dir",
    "container_cachedir",
    "http_proxy",
    "https_proxy",
    "load_modules",
    "local_tmp",
    "shared_fs_path",
    "site_config_script",
)
"""Copied verbatim into `job.cfg [site_config]` in this order, only when non-empty (as v0.9.0)."""

_JOB_NAME = re.compile(r"^[A-Za-z0-9_.+-]{3,}$")
_EXPORT_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^\n\r]*$")


def read_buildenv(r: Reader, jobs_base_dir: Path, default_job_name: str, cpu_count: int) -> BuildEnv:
    """`[buildenv]`; `cpu_count` (the machine's, given by the caller) is the default of local_max_jobs."""
    s = "buildenv"
    script = r.raw(s, "build_job_script")
    build_job_script = None
    if script:
        if "@" in script:
            r.error(s, "build_job_script", "the 'path@repository' form is not supported", script,
                    "clone that repository on the bot machine and give the script's local path, "
                    "or leave the key out to use the job script shipped with the bot")
        else:
            build_job_script = r.expand_path(s, "build_job_script", script)
    job_name = r.text(s, "job_name", default_job_name)
    if not _JOB_NAME.match(job_name):
        r.error(s, "job_name", "must be at least 3 characters of letters, digits, '_', '.', '+' or '-'",
                job_name)
    slurm_params = r.split_args(s, "slurm_params", r.raw(s, "slurm_params") or "")
    if "--hold" in slurm_params:
        r.note(s, "slurm_params", "'--hold' is added by the bot when job_handover_protocol is "
               "hold_release; it is not passed twice", " ".join(slurm_params))
        slurm_params = tuple(p for p in slurm_params if p != "--hold")
    slurm_params = _without_export(r, "slurm_params", slurm_params)
    if r.boolean(s, "allow_update_submit_opts", False):
        r.warn(s, "allow_update_submit_opts", "is not supported: PR code never runs inside the bot, so "
               "det_submit_opts.py is not used", "true", "use slurm_params of the node types instead")
    r.json_value(s, "cvmfs_customizations")
    if r.raw(s, "cvmfs_customizations"):
        r.note(s, "cvmfs_customizations", "is not used (it was not used by the EESSI bot either)")
    submit_command = _without_export(r, "submit_command",
                                     r.split_args(s, "submit_command", r.text(s, "submit_command", "sbatch")))
    sandbox = r.choice(s, "job_sandbox", ("none", "bwrap"), "none")
    if sandbox == "bwrap" and build_job_script is not None:
        r.error(s, "job_sandbox", "bwrap is applied by the job script shipped with the bot (it runs bot/*.sh "
                "in the sandbox), but build_job_script names another one", "bwrap",
                "leave build_job_script out, or set job_sandbox = none")
    site_config = {key: value for key in SITE_CONFIG_KEYS if (value := r.text(s, key))}
    backend = r.choice(s, "job_backend", ("slurm", "local"), "slurm")
    protocol = r.choice(s, "job_handover_protocol", ("hold_release", "delayed_begin"), "hold_release")
    if backend == "local" and protocol == "delayed_begin":
        r.note(s, "job_handover_protocol", "is for Slurm; the local backend holds and releases its jobs itself",
               protocol)
    return BuildEnv(
        jobs_base_dir=jobs_base_dir,
        build_job_script=build_job_script,
        job_backend=backend,
        job_name=job_name,
        job_handover_protocol=protocol,
        job_delay_begin_factor=r.number(s, "job_delay_begin_factor", 2.0),
        slurm_params=slurm_params,
        submit_command=submit_command or ("sbatch",),
        build_permission=r.permission(s, "build_permission"),
        allowed_exportvars=_allowed_exportvars(r),
        clone_git_repo_via=r.choice(s, "clone_git_repo_via", ("https", "ssh"), "https"),
        job_comment_mode=r.choice(s, "job_comment_mode", ("per_job", "summary"), "per_job"),
        job_sandbox=sandbox,
        local_max_jobs=r.integer(s, "local_max_jobs", cpu_count, minimum=1),
        site_config=site_config,
        job_environment=_job_environment(r),
    )


def _allowed_exportvars(r: Reader) -> Tuple[str, ...]:
    s, k = "buildenv", "allowed_exportvars"
    data = r.json_value(s, k)
    if data is None:
        return ()
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        r.error(s, k, "must be a JSON list of \"NAME=value\" strings", hint='e.g. ["SKIP_TESTS=yes"]')
        return ()
    bad = [v for v in data if not _EXPORT_VAR.match(v)]
    if bad:
        r.error(s, k, "entries must look like NAME=value: " + ", ".join(repr(b) for b in bad))
        return ()
    return tuple(data)


def _without_export(r: Reader, key: str, params: Tuple[str, ...]) -> Tuple[str, ...]:
    """`params` without sbatch's `--export`, each one warned about: the bot decides what jobs see."""
    kept, removed = without_export(params)
    for option in removed:
        r.warn("buildenv", key, export_message(option), " ".join(params), EXPORT_HINT)
    return kept


def _job_environment(r: Reader) -> Tuple[str, ...]:
    """`job_environment`: absent means the default; secret-looking globs are warned about (and never
    honoured), entries that are no name or glob are errors."""
    s, k = "buildenv", "job_environment"
    value = r.raw(s, k)
    if value is None:
        return DEFAULT_PATTERNS
    patterns = split_patterns(value)
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            r.error(s, k, problem, pattern, "values cannot be set here: a job gets the bot's value of each name")
            continue
        warning = secret_warning(pattern)
        if warning:
            r.warn(s, k, warning, pattern, "whatever job_environment says, such names never reach a job")
    return tuple(p for p in patterns if not pattern_problem(p))


def read_deploycfg(r: Reader) -> DeployConfig:
    s = "deploycfg"
    endpoint_url = r.text(s, "endpoint_url")
    if endpoint_url and not re.match(r"^https?://[^/\s]+", endpoint_url):
        r.error(s, "endpoint_url", "must be an http:// or https:// URL", endpoint_url)
    upload_method = r.choice(s, "upload_method", ("boto3", "script"), "boto3")
    script = r.path(s, "artefact_upload_script", required=upload_method == "script",
                    hint="the EESSI upload script (upload_method = script runs it once per artefact)")
    if script is not None and upload_method != "script":
        r.note(s, "artefact_upload_script", "is not used: the bot uploads with boto3 itself "
               "(set upload_method = script to run it instead)")
    upload_policy = r.choice(s, "upload_policy", ("all", "latest", "once", "none"), "none")
    return DeployConfig(
        upload_policy=upload_policy,
        deploy_permission=r.permission(s, "deploy_permission", warn_empty=upload_policy != "none"),
        endpoint_url=endpoint_url,
        bucket_name=_per_repo(r, s, "bucket_name"),
        metadata_prefix=_per_repo(r, s, "metadata_prefix"),
        artefact_prefix=_per_repo(r, s, "artefact_prefix"),
        signing=_signing(r),
        upload_method=upload_method,
        upload_script=script if upload_method == "script" else None,
    )


def _per_repo(r: Reader, section: str, key: str) -> Mapping[str, str]:
    """A plain string (used for every repo, stored under '*') or a JSON object repo_id -> value."""
    value = r.raw(section, key)
    if not value:
        return {}
    if not value.startswith("{"):
        return {"*": value}
    data = r.json_value(section, key)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        if data is not None:
            r.error(section, key, "must be a string or a JSON object of repo id -> string", value)
        return {}
    return {str(k): v for k, v in data.items()}


def _signing(r: Reader) -> Mapping[str, Mapping[str, str]]:
    s, k = "deploycfg", "signing"
    data: Any = r.json_value(s, k)
    if data is None:
        return {}
    if not isinstance(data, dict):
        r.error(s, k, "must be a JSON object of repo id -> {\"key\": ..., \"container_runtime\": ...}")
        return {}
    result: Dict[str, Mapping[str, str]] = {}
    for repo_id, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
            r.error(s, k, f"entry for '{repo_id}' needs a \"key\" (path of the SSH signing key)")
            continue
        if "script" in entry:
            r.note(s, k, f"entry for '{repo_id}': \"script\" is ignored; the bot signs with "
                   "'ssh-keygen -Y sign' itself")
        result[str(repo_id)] = {str(a): str(b) for a, b in entry.items()}
    return result
