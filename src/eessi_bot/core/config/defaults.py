"""Built-in defaults: the EESSI bot v0.9.0 message texts, so a minimal app.cfg stays small.

Each template is declared with the placeholders it may use; check-config rejects others (they would
fail at run time) and warns when a required one is missing. A default that names Slurm has a text of
its own for the local backend, used for that backend's jobs when app.cfg leaves the template unset;
a template app.cfg sets is used as written for every backend (`template_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Tuple


@dataclass(frozen=True)
class TemplateSpec:
    section: str
    key: str
    default: str
    fields: Tuple[str, ...]
    required_fields: Tuple[str, ...] = ()
    local_default: Optional[str] = None
    """The default for jobs of the local backend, where the EESSI text names Slurm."""

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


COMMAND_RESPONSE_FMT = (
    "<details><summary>Updates by the bot instance <code>{app_name}</code>\n"
    "<em>(click for details)</em></summary>\n"
    "\n"
    "{comment_response}\n"
    "{comment_result}\n"
    "</details>"
)

TEMPLATES: Tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "bot_control",
        "command_response_fmt",
        COMMAND_RESPONSE_FMT,
        ("app_name", "comment_response", "comment_result"),
        ("comment_response", "comment_result"),
    ),
    TemplateSpec(
        "buildenv",
        "no_build_permission_comment",
        "Label `bot:build` has been set by user `{build_labeler}`, but this person does not have "
        "permission to trigger builds",
        ("build_labeler",),
    ),
    TemplateSpec(
        "deploycfg",
        "no_deploy_permission_comment",
        "Label `bot:deploy` has been set by user `{deploy_labeler}`, but this person does not have "
        "permission to trigger deployments",
        ("deploy_labeler",),
    ),
    TemplateSpec(
        "submitted_job_comments",
        "new_job_instance_repo",
        "New job on instance `{app_name}` for repository `{repo_id}`",
        ("app_name", "repo_id"),
    ),
    TemplateSpec(
        "submitted_job_comments",
        "build_on_arch",
        "Building on: `{on_arch}`{on_accelerator}",
        ("on_arch", "on_accelerator"),
    ),
    TemplateSpec(
        "submitted_job_comments",
        "build_for_arch",
        "Building for: `{for_arch}`{for_accelerator}",
        ("for_arch", "for_accelerator"),
    ),
    TemplateSpec("submitted_job_comments", "jobdir", "Job dir: `{symlink}`", ("symlink",)),
    TemplateSpec("submitted_job_comments", "commit_sha", "Commit SHA: {commit_sha}", ("commit_sha",)),
    TemplateSpec(
        "submitted_job_comments",
        "with_accelerator",
        "&nbsp;and accelerator `{accelerator}`",
        ("accelerator",),
    ),
    TemplateSpec(
        "submitted_job_comments",
        "awaits_release_delayed_begin_msg",
        "job id `{job_id}` will be eligible to start in about {delay_seconds} seconds",
        ("job_id", "delay_seconds"),
    ),
    TemplateSpec(
        "submitted_job_comments",
        "awaits_release_hold_release_msg",
        "job id `{job_id}` awaits release by job manager",
        ("job_id",),
    ),
    TemplateSpec(
        "new_job_comments",
        "awaits_launch",
        "job awaits launch by Slurm scheduler{extra_info}",
        ("extra_info",),
        local_default="job awaits launch as a local process{extra_info}",
    ),
    TemplateSpec("running_job_comments", "running_job", "job `{job_id}` is running", ("job_id",)),
    TemplateSpec(
        "finished_job_comments",
        "job_result_unknown_fmt",
        "<details><summary>:shrug: UNKNOWN _(click triangle for detailed information)_</summary><ul>"
        "<li>Job results file `{filename}` does not exist in job directory, or parsing it failed.</li>"
        "<li>No artefacts were found/reported.</li></ul></details>",
        ("filename",),
    ),
    TemplateSpec(
        "finished_job_comments",
        "job_test_unknown_fmt",
        "<details><summary>:shrug: UNKNOWN _(click triangle for detailed information)_</summary><ul>"
        "<li>Job test file `{filename}` does not exist in job directory, or parsing it failed.</li>"
        "</ul></details>",
        ("filename",),
    ),
    TemplateSpec(
        "download_pr_comments", "git_clone_failure", "Unable to clone the target repository.", ()
    ),
    TemplateSpec(
        "download_pr_comments",
        "git_clone_tip",
        "_Tip: This could be a connection failure. Try again and if the issue remains check if the "
        "address is correct_.",
        (),
    ),
    TemplateSpec(
        "download_pr_comments", "git_checkout_failure", "Unable to checkout to the correct branch.", ()
    ),
    TemplateSpec(
        "download_pr_comments",
        "git_checkout_tip",
        "_Tip: Ensure that the branch name is correct and the target branch is available._",
        (),
    ),
    TemplateSpec("download_pr_comments", "curl_failure", "Unable to download the `.diff` file.", ()),
    TemplateSpec(
        "download_pr_comments",
        "curl_tip",
        "_Tip: This could be a connection failure. Try again and if the issue remains check if the "
        "address is correct_",
        (),
    ),
    TemplateSpec(
        "download_pr_comments",
        "git_apply_failure",
        "Unable to download or merge changes between the source branch and the destination branch.",
        (),
    ),
    TemplateSpec(
        "download_pr_comments",
        "git_apply_tip",
        "_Tip: This can usually be resolved by syncing your branch and resolving any merge conflicts._",
        (),
    ),
    TemplateSpec("download_pr_comments", "pr_diff_failure", "Unable to obtain PR diff.", ()),
    TemplateSpec(
        "download_pr_comments",
        "pr_diff_tip",
        "_Tip: This could be a problem with SSH access to the repository._",
        (),
    ),
    TemplateSpec(
        "clean_up",
        "moved_job_dirs_comment",
        "PR merged! Moved `{job_dirs}` to `{trash_bin_dir}`",
        ("job_dirs", "trash_bin_dir"),
    ),
)

TEMPLATE_DEFAULTS = {spec.name: spec.default for spec in TEMPLATES}
LOCAL_BACKEND = "local"


def backend_key(name: str, backend: str) -> str:
    """Where `Config.templates` keeps a backend's own default of template `name`."""
    return f"{name}@{backend}"


def backend_defaults(unset: Iterable[str]) -> Dict[str, str]:
    """The local backend's own defaults of the templates named in `unset` (those app.cfg leaves out)."""
    names = set(unset)
    return {backend_key(spec.name, LOCAL_BACKEND): spec.local_default for spec in TEMPLATES
            if spec.name in names and spec.local_default is not None}


def template_for(templates: Mapping[str, str], name: str, backend: str) -> str:
    """Template `name` for a job of `backend`: the site's text when app.cfg sets it, else that
    backend's default (the EESSI text for Slurm)."""
    return templates.get(backend_key(name, backend), templates[name])

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_DATA_DIR = "~/.local/state/eessi-bot"
DEFAULT_JOB_NAME = "eessi-bot"
DEFAULT_POLL_INTERVAL = 60
