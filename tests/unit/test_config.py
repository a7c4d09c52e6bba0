"""app.cfg parsing and checking: every problem named by file, [section] key and value, all at once."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import List, Optional

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.core.config import ChatLevel, Config, Problem, Severity
from tests.fakes.site import write_site

ENV = {"HOME": "/home/bot", "USER": "bot"}
CPUS = 8
"""The machine's CPU count as the tests give it: parsing does not depend on the machine running them."""


def load(path: Path) -> tuple[Config | None, List[Problem]]:
    return load_config(path, ENV, CPUS)


def edit(cfg: Path, pattern: str, replacement: str) -> None:
    text = cfg.read_text()
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count, f"{pattern!r} not in {cfg}"
    cfg.write_text(new)


def rendered(problems: List[Problem], severity: Severity = Severity.ERROR) -> List[str]:
    return [p.render() for p in problems if p.severity is severity]


def test_minimal_site_loads_with_defaults(tmp_path: Path) -> None:
    config, problems = load(write_site(tmp_path))
    assert config is not None, rendered(problems)
    assert config.instance == "test-bot"
    assert config.github.api_url == "http://127.0.0.1:9"
    assert config.bot_control.chatlevel is ChatLevel.BASIC
    assert config.buildenv.job_name == "eessi-bot"
    assert config.buildenv.submit_command == ("sbatch",)
    assert config.job_manager.poll_interval == 60
    assert [n.name for n in config.node_types] == ["cpu_zen2", "cpu_zen4"]
    assert config.node_types[0].slurm_params == ("-p", "zen2")
    assert sorted(config.repos) == ["eessi.io-2023.06-compat", "eessi.io-2023.06-software"]
    assert config.template("running_job_comments.running_job") == "job `{job_id}` is running"
    assert config.bot_control.command_permission.allows("maintainer")
    assert not config.bot_control.command_permission.allows("stranger")


# (id, regex to change in the valid site, replacement, text that must appear in one error line)
BROKEN = [
    ("missing-app-id", r"^app_id = .*\n", "", "[github] app_id: is required but missing"),
    ("app-id-not-number", r"^app_id = .*$", "app_id = twelve",
     "[github] app_id = 'twelve': must be a whole number"),
    ("missing-installation", r"^installation_id = .*\n", "", "[github] installation_id: is required"),
    ("bad-node-json", r'"cpu_zen4": \{', '"cpu_zen4": {,',
     "app.cfg:28:22: error: [architecturetargets] node_type_map: is not valid JSON: a name in double quotes is "
     "expected here"),
    ("node-map-not-object", r"^node_type_map = (.*\n)+?(?=\n)", "node_type_map = [1, 2]\n",
     "must be a non-empty JSON object"),
    ("node-without-cpu-subdir", r'"cpu_subdir": "x86_64/amd/zen4", ', "",
     "node type 'cpu_zen4' needs \"cpu_subdir\""),
    ("cpu-subdir-escapes", r"x86_64/amd/zen4", "../../etc", "cpu_subdir '../../etc' must be a relative path"),
    ("unknown-repo-target", r'\["eessi.io-2023.06-software"\]\}\}', '["nosuch-repo"]}}',
     "node type 'cpu_zen4' targets repository 'nosuch-repo', which repos.cfg does not define"),
    ("key-missing", r"^private_key = .*$", "private_key = /nonexistent/app.pem",
     "[github] private_key = '/nonexistent/app.pem': the file does not exist"),
    ("key-not-pem", r"^private_key = .*$", "private_key = {repos}/repos.cfg", "is not a usable PEM private key"),
    ("relative-path", r"^jobs_base_dir = .*$", "jobs_base_dir = jobs", "[buildenv] jobs_base_dir = 'jobs': must be an "
     "absolute path"),
    ("unset-variable", r"^jobs_base_dir = .*$", "jobs_base_dir = $NOPE/jobs", "uses $NOPE, which is not set"),
    ("bad-chatlevel", r"^chatlevel = .*$", "chatlevel = loud", "[bot_control] chatlevel = 'loud': is not one of"),
    ("bad-backend", r"^job_backend = .*$", "job_backend = k8s", "[buildenv] job_backend = 'k8s': is not one of"),
    ("short-job-name", r"^\[buildenv\]$", "[buildenv]\njob_name = ab",
     "[buildenv] job_name = 'ab': must be at least 3"),
    ("poll-interval-zero", r"^\[repo_targets\]$", "[job_manager]\npoll_interval = 0\n\n[repo_targets]",
     "[job_manager] poll_interval = '0': must be at least 1"),
    ("removed-arch-target-map", r"^\[architecturetargets\]$",
     "[architecturetargets]\narch_target_map = {\"linux/x86_64/generic\": \"-p x\"}",
     "[architecturetargets] arch_target_map: is no longer supported (was replaced by node_type_map"),
    ("removed-repo-target-map", r"^\[repo_targets\]$", "[repo_targets]\nrepo_target_map = {}",
     "[repo_targets] repo_target_map: is no longer supported"),
    ("removed-initial-comment", r"^\[repo_targets\]$",
     "[submitted_job_comments]\ninitial_comment = New job\n\n[repo_targets]",
     "[submitted_job_comments] initial_comment: is no longer supported"),
    ("unknown-placeholder", r"^\[repo_targets\]$",
     "[running_job_comments]\nrunning_job = job {jobid}\n\n[repo_targets]",
     "uses unknown placeholder(s) {jobid}"),
    ("attribute-placeholder", r"^\[repo_targets\]$",
     "[running_job_comments]\nrunning_job = {job_id.__class__}\n\n[repo_targets]", "unknown placeholder"),
    ("unbalanced-template", r"^\[repo_targets\]$", "[running_job_comments]\nrunning_job = job {\n\n[repo_targets]",
     "is not a valid template"),
    ("bad-exportvars", r"^allowed_exportvars = .*$", "allowed_exportvars = [\"SKIP TESTS\"]",
     "entries must look like NAME=value"),
    ("bad-api-url", r"^api_url = .*$", "api_url = api.github.com", "[github] api_url = 'api.github.com': must be an "
     "http:// or https:// URL"),
    ("no-secret", r"^webhook_secret = .*\n", "", "no webhook secret is configured"),
    ("bad-interpolation", r"^\[repo_targets\]$",
     "[job_manager]\nscontrol_command = scontrol %(jobid)s\n\n[repo_targets]",
     "cannot interpolate"),
    ("bucket-for-unknown-repo", r"^\[repo_targets\]$",
     "[deploycfg]\nupload_policy = once\nbucket_name = {\"nosuch\": \"b\"}\n\n[repo_targets]",
     "[deploycfg] bucket_name: names repository 'nosuch'"),
    ("path-at-repo-job-script", r"^\[buildenv\]$", "[buildenv]\nbuild_job_script = bot.slurm@https://x/y.git",
     "the 'path@repository' form is not supported"),
    ("repos-cfg-dir-missing", r"^repos_cfg_dir = .*$", "repos_cfg_dir = /nonexistent", "cannot read "
     "/nonexistent/repos.cfg"),
    ("duplicate-key", r"^app_name = .*$", "app_name = a\napp_name = b", "is not a valid INI file"),
    ("local-max-jobs-zero", r"^\[buildenv\]$", "[buildenv]\nlocal_max_jobs = 0",
     "[buildenv] local_max_jobs = '0': must be at least 1"),
    ("job-environment-assignment", r"^\[buildenv\]$", "[buildenv]\njob_environment = MODULEPATH http_proxy=x",
     "[buildenv] job_environment = 'http_proxy=x': is not a variable name or glob"),
    ("sandbox-with-own-job-script", r"^\[buildenv\]$",
     "[buildenv]\njob_sandbox = bwrap\nbuild_job_script = {repos}/repos.cfg",
     "[buildenv] job_sandbox = 'bwrap': bwrap is applied by the job script shipped with the bot"),
    ("sandbox-unknown", r"^\[buildenv\]$", "[buildenv]\njob_sandbox = docker",
     "[buildenv] job_sandbox = 'docker': is not one of"),
]


@pytest.mark.parametrize(("pattern", "replacement", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_problem_is_named(tmp_path: Path, pattern: str, replacement: str, expected: str) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, pattern, replacement.replace("{repos}", str(tmp_path / "repos")))
    config, problems = load(cfg)
    errors = rendered(problems)
    assert config is None
    assert any(expected in line for line in errors), errors
    assert all(line.startswith(str(tmp_path)) for line in errors), errors


def test_every_problem_at_once(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, r"^app_id = .*\n", "")
    edit(cfg, r"^chatlevel = .*$", "chatlevel = loud")
    edit(cfg, r"^private_key = .*$", "private_key = /nonexistent/key.pem")
    config, problems = load(cfg)
    errors = rendered(problems)
    assert config is None
    assert len(errors) >= 3, errors
    assert any("app_id" in e for e in errors) and any("chatlevel" in e for e in errors)


WARNINGS = [
    ("quoted-value", r"^\[buildenv\]$", "[buildenv]\nslurm_params = \"--mem 4G\"",
     "[buildenv] slurm_params = '\"--mem 4G\"': surrounding quotes are not part of the value"),
    ("empty-permission", r"^command_permission = .*$", "command_permission =",
     "[bot_control] command_permission = '': is empty or missing, so nobody is allowed"),
    ("submit-opts", r"^\[buildenv\]$", "[buildenv]\nallow_update_submit_opts = true", "is not supported"),
    ("world-readable-key", None, None, "other users can read the key"),
    ("job-environment-secret-glob", r"^\[buildenv\]$", "[buildenv]\njob_environment = MODULEPATH AWS_*",
     "[buildenv] job_environment = 'AWS_*': names secret-looking variables, which are never passed to jobs"),
    ("export-in-slurm-params", r"^\[buildenv\]$", "[buildenv]\nslurm_params = --export=ALL",
     "[buildenv] slurm_params = '--export=ALL': '--export=ALL' is left out: the bot decides the jobs' environment"),
]


@pytest.mark.parametrize(("pattern", "replacement", "expected"), [w[1:] for w in WARNINGS],
                         ids=[w[0] for w in WARNINGS])
def test_warnings_do_not_stop_the_bot(tmp_path: Path, pattern: str, replacement: str, expected: str) -> None:
    cfg = write_site(tmp_path)
    if pattern is None:
        (tmp_path / "app.pem").chmod(0o644)
    else:
        edit(cfg, pattern, replacement)
    config, problems = load(cfg)
    assert config is not None, rendered(problems)
    assert any(expected in line for line in rendered(problems, Severity.WARNING)), rendered(problems, Severity.WARNING)


def test_quotes_stripped_and_params_split(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, r"^\[buildenv\]$", "[buildenv]\nslurm_params = \"--hold --mem 4G\"")
    config, _problems = load(cfg)
    assert config is not None
    assert config.buildenv.slurm_params == ("--mem", "4G")


@pytest.mark.parametrize(("value", "everyone", "allowed", "refused"), [
    ("*", True, ["anyone"], []),
    ("alice bob", False, ["alice", "bob"], ["carol"]),
    ("", False, [], ["alice"]),
])
def test_permission_semantics(tmp_path: Path, value: str, everyone: bool, allowed: list, refused: list) -> None:
    """Empty means nobody (as the EESSI bot really does); '*' is the explicit 'everyone'."""
    config, problems = load(write_site(tmp_path, command_permission=value))
    assert config is not None, rendered(problems)
    permission = config.bot_control.command_permission
    assert permission.everyone is everyone
    assert all(permission.allows(login) for login in allowed)
    assert not any(permission.allows(login) for login in refused)


def test_unknown_keys_are_noted_not_fatal(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, r"^\[bot\]$", "[bot]\ncolour = blue")
    config, problems = load(cfg)
    assert config is not None
    assert "[bot] colour: unknown key, ignored" in " ".join(rendered(problems, Severity.NOTE))


@pytest.mark.parametrize(("cpus", "setting", "expected"), [
    (1, "", 1),
    (64, "", 64),
    (64, "local_max_jobs = 3", 3),
    (None, "", os.cpu_count() or 1),
], ids=["one-cpu", "many-cpus", "set-in-app-cfg", "this-machine-when-not-given"])
def test_local_max_jobs_defaults_to_the_cpu_count(tmp_path: Path, cpus: Optional[int], setting: str,
                                                  expected: int) -> None:
    cfg = write_site(tmp_path)
    if setting:
        edit(cfg, r"^\[buildenv\]$", f"[buildenv]\n{setting}")
    config, problems = load_config(cfg, ENV, cpus)
    assert config is not None, rendered(problems)
    assert config.buildenv.local_max_jobs == expected


def test_paths_expand_home_and_variables(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, r"^jobs_base_dir = .*$", "jobs_base_dir = $JOBROOT/jobs\n")
    config, problems = load_config(cfg, {**ENV, "JOBROOT": str(tmp_path)}, CPUS)
    assert config is not None, rendered(problems)
    assert config.buildenv.jobs_base_dir == tmp_path / "jobs"
    assert config.clean_up.trash_bin_dir == tmp_path / "jobs" / "trash_bin"


def test_secret_from_environment(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    edit(cfg, r"^webhook_secret = .*\n", "")
    config, _ = load_config(cfg, {**ENV, "GITHUB_APP_SECRET_TOKEN": "from-env"}, CPUS)
    assert config is not None
    assert config.github.webhook_secret == "from-env"


def test_unwritable_work_dir_is_an_error(tmp_path: Path) -> None:
    cfg = write_site(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    edit(cfg, r"^jobs_base_dir = .*$", f"jobs_base_dir = {blocker}/jobs")
    config, problems = load(cfg)
    assert config is None
    assert any("exists but is not a directory" in e for e in rendered(problems))


def test_scontrol_template_fields_are_checked(tmp_path: Path) -> None:
    cfg = write_site(tmp_path, backend="slurm")
    edit(cfg, r"^\[repo_targets\]$", "[job_manager]\nscontrol_command = scontrol -M %%(clustr)s\n\n[repo_targets]")
    config, problems = load(cfg)
    assert config is None
    assert any("unknown field %(clustr)s" in e for e in rendered(problems))


def test_slurm_backend_needs_sbatch(tmp_path: Path) -> None:
    cfg = write_site(tmp_path, backend="slurm")
    edit(cfg, r"^\[buildenv\]$", "[buildenv]\nsubmit_command = /nonexistent/sbatch")
    config, problems = load(cfg)
    assert config is None
    assert any("[buildenv] submit_command = '/nonexistent/sbatch': command '/nonexistent/sbatch' was not found" in e
               for e in rendered(problems))


FAILING_BWRAP = "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"


@pytest.mark.parametrize(("backend", "bwrap", "severity", "expected"), [
    ("local", "real", Severity.NOTE, "works on this machine (a trivial sandbox started and ended in"),
    ("local", None, Severity.ERROR, "[buildenv] job_sandbox = 'bwrap': bwrap was not found on this machine "
     "(install bubblewrap"),
    ("slurm", None, Severity.WARNING, "bwrap was not found on this machine (jobs run on the compute nodes: "
     "they need a working bwrap there)"),
    ("local", FAILING_BWRAP, Severity.ERROR, "bwrap cannot start a sandbox on this machine: bwrap: No permissions "
     "to creating new namespace (bwrap needs unprivileged user namespaces"),
], ids=["works", "missing-local-backend", "missing-slurm-backend", "no-user-namespaces"])
def test_job_sandbox_bwrap_is_tried_on_this_machine(tmp_path: Path, backend: str, bwrap: Optional[str],
                                                   severity: Severity, expected: str) -> None:
    cfg = write_site(tmp_path / "site", backend=backend, buildenv_extra="job_sandbox = bwrap")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if bwrap == "real":
        real = shutil.which("bwrap")
        assert real is not None, "bwrap is not installed (scripts/test.sh installs bubblewrap)"
        (bin_dir / "bwrap").symlink_to(real)
    elif bwrap is not None:
        (bin_dir / "bwrap").write_text(bwrap)
        (bin_dir / "bwrap").chmod(0o755)
    config, problems = load_config(cfg, {**ENV, "PATH": str(bin_dir)}, CPUS)
    assert (config is None) is (severity is Severity.ERROR)
    shown = rendered(problems, severity)
    assert any(expected in line for line in shown), shown
    if config is not None:
        assert config.buildenv.job_sandbox == "bwrap"


def test_no_sandbox_check_without_the_sandbox(tmp_path: Path) -> None:
    config, problems = load_config(write_site(tmp_path), {**ENV, "PATH": str(tmp_path / "empty")}, CPUS)
    assert config is not None and config.buildenv.job_sandbox == "none"
    assert not [p for p in problems if p.key == "job_sandbox"]
    assert config.source == tmp_path / "app.cfg"  # what a sandboxed job would not see
