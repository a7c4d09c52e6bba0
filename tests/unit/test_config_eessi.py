"""An EESSI bot site's app.cfg works as it is: its example (with its placeholders filled) has no errors, and
no key any EESSI bot version had is taken for a typo of a known one."""

from __future__ import annotations

import re
from typing import List

from eessi_bot.core.config import Problem, Severity, parse_config

ENV = {"HOME": "/home/bot", "USER": "bot"}
CPUS = 8


def rendered(problems: List[Problem], severity: Severity = Severity.ERROR) -> List[str]:
    return [p.render() for p in problems if p.severity is severity]


EESSI_EXAMPLE = """\
[github]
app_id = 123456
app_name = MY-bot
installation_id = 12345678
private_key = PATH_TO_PRIVATE_KEY
[bot_control]
command_permission =
chatlevel = basic
[buildenv]
build_job_script = PATH_TO_EESSI_BOT/scripts/bot-build.slurm
shared_fs_path = PATH_TO_SHARED_DIRECTORY
build_logs_dir = PATH_TO_BUILD_LOGS_DIR
container_cachedir = PATH_TO_SHARED_DIRECTORY
job_name = prod
job_delay_begin_factor = 2
job_handover_protocol = hold_release
jobs_base_dir = $HOME/jobs
load_modules =
local_tmp = /tmp/$USER/EESSI
site_config_script = /path/to/script/if/any
slurm_params = --hold
submit_command = /usr/bin/sbatch
build_permission = -NOT_ALLOWED_GH_ACCOUNT_NAME-
allow_update_submit_opts = false
allowed_exportvars = []
clone_git_repo_via = https
[deploycfg]
artefact_upload_script = PATH_TO_EESSI_BOT/scripts/eessi-upload-to-staging
endpoint_url = URL_TO_S3_SERVER
bucket_name = eessi-staging
upload_policy = once
deploy_permission =
metadata_prefix =
artefact_prefix =
signing =
    {
        "eessi.io-2023.06-software": {
            "script": "PATH_TO_SIGN_SCRIPT",
            "key": "PATH_TO_EESSI_BOT/config/user-site-system.key",
            "container_runtime": "PATH_TO_CONTAINER_RUNTIME"
        }
    }
[architecturetargets]
# Each entry in the node_type_map dictionary describes a build node type. ...
  - os: its operating system (os)
  - accel (optional): which accelerators this node has
node_type_map = {
    "cpu_zen4": {
        "os": "linux",
        "cpu_subdir": "x86_64/amd/zen4",
        "accel": "None",
        "slurm_params": "-p genoa --nodes 1 --ntasks-per-node 24 --cpus-per-task 1",
        "repo_targets": ["eessi.io-2023.06-compat","eessi.io-2023.06-software"]
    }}
[repo_targets]
repos_cfg_dir = PATH_TO_SHARED_DIRECTORY/repos
[event_handler]
log_path = /path/to/eessi_bot_event_handler.log
[job_manager]
log_path = /path/to/eessi_bot_job_manager.log
job_ids_dir = $HOME/jobs/ids
poll_command = /usr/bin/squeue
poll_interval = 60
scontrol_command = /usr/bin/scontrol
[clean_up]
trash_bin_dir = $HOME/trash_bin
"""
"""The EESSI bot's app.cfg.example (v0.9.0 and later), its comments and message templates left out."""


def test_the_eessi_example_has_no_errors_once_filled() -> None:
    """An EESSI site's app.cfg passes as it is: its "nobody" placeholder login and its empty permission
    lists are warnings, its prose lines in [architecturetargets] notes."""
    text = EESSI_EXAMPLE
    for placeholder, value in (("PATH_TO_PRIVATE_KEY", "/site/app.pem"), ("PATH_TO_EESSI_BOT", "/site/bot"),
                               ("PATH_TO_SHARED_DIRECTORY", "/site/shared"), ("PATH_TO_BUILD_LOGS_DIR", "/site/logs"),
                               ("URL_TO_S3_SERVER", "https://s3.example.org")):
        text = text.replace(placeholder, value)
    _config, problems = parse_config(text, {**ENV, "GITHUB_APP_SECRET_TOKEN": "s"}, CPUS)
    assert rendered(problems) == []
    assert rendered(problems, Severity.WARNING) == [
        "line 23: warning: [buildenv] build_permission = '-NOT_ALLOWED_GH_ACCOUNT_NAME-': "
        "`-NOT_ALLOWED_GH_ACCOUNT_NAME-`: cannot be a GitHub login, so it allows nobody (a GitHub login is letters, "
        "digits and single hyphens, not at either end, at most 39 characters; a GitHub App's account is name[bot]; "
        "leave the value empty to allow nobody)",
        "line 32: warning: [deploycfg] deploy_permission = '': is empty or missing, so nobody is allowed (list "
        "GitHub logins separated by spaces, or '*' to allow everyone)",
        "line 7: warning: [bot_control] command_permission = '': is empty or missing, so nobody is allowed (list "
        "GitHub logins separated by spaces, or '*' to allow everyone)",
    ]


EESSI_KEYS = """
architecturetargets: arch_target_map node_type_map
bot_control: chatlevel command_permission command_response_fmt
buildcfg: build_permission
buildenv: allow_update_submit_opts allowed_exportvars build_job_script build_logs_dir build_permission
    clone_git_repo_via container_cachedir containers cvmfs_customizations http_proxy https_proxy
    job_delay_begin_factor job_handover_protocol job_name jobs_base_dir load_modules local_tmp
    no_build_permission_comment poll_command poll_interval scripts_dir shared_fs_path site_config_script
    slurm_params submit_command
clean_up: moved_job_dirs_comment trash_bin_dir
common_job_params: slurm_params
deploycfg: artefact_prefix artefact_upload_script bucket_name deploy_permission endpoint_url metadata_prefix
    no_deploy_permission_comment signing tarball_prefix tarball_upload_script upload_policy upload_to_s3_script
download_pr_comments: curl_failure curl_tip git_apply_failure git_apply_tip git_checkout_failure git_checkout_tip
    git_clone_failure git_clone_tip pr_diff_failure pr_diff_tip
event_handler: log_path
finished_job_comments: failure job_result_artefacts_item_fmt job_result_comment_fmt job_result_details_item_fmt
    job_result_unknown_fmt job_test_unknown_fmt missing_modules multiple_tarballs no_matching_tarball no_slurm_out
    no_tarball_message slurm_out success
github: app_id app_name installation_id private_key
job_manager: job_ids_dir log_path max_manager_iterations_default poll_command poll_interval scontrol_command
job_monitor: job_ids_dir max_monitor_iterations_default
new_job_comments: awaits_lauch awaits_launch comment
repo_targets: repo_target_map repos_cfg_dir
running_job_comments: comment running_job
softwaretargets: software_file whitelist_versions
submitted_job_comments: awaits_release awaits_release_delayed_begin_msg awaits_release_hold_release_msg
    build_for_arch build_on_arch comment description initial_comment jobdir new_job_instance_repo with_accelerator
"""
"""Every section and key any version of the EESSI bot's app.cfg.example had (from its git history)."""


def test_no_key_the_eessi_bot_ever_had_is_taken_for_a_typo() -> None:
    """Old keys of EESSI configurations are noted (or refused when removed), never "did you mean"."""
    sections = dict(line.split(":", 1) for line in re.sub(r"\n    ", " ", EESSI_KEYS).strip().splitlines())
    text = "".join(f"[{s}]\n" + "".join(f"{k} = x\n" for k in keys.split()) for s, keys in sections.items())
    _config, problems = parse_config(text, ENV, CPUS)
    assert [p.render() for p in problems if "did you mean" in p.message] == []
    refused = {(p.section, p.key) for p in problems if p.message == "is no longer supported"}
    assert refused == {("architecturetargets", "arch_target_map"), ("repo_targets", "repo_target_map"),
                       ("submitted_job_comments", "initial_comment")}
