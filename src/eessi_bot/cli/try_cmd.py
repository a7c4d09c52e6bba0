"""`eessi-bot try --repo PATH --branch BR [--config app.cfg] [--as LOGIN] "bot: build ..."`: a site admin's dry run.

The command runs through the real pipeline with this site's configuration (Slurm included): the
branch of a local checkout plays a PR against its base branch, the jobs are submitted and followed
to their end, and the comments the bot would post are printed instead of sent. The bot's state
(database, mirror) goes to a temporary directory, so a running bot's database is not touched.

Decisions:

* **Who comments** (`--as LOGIN`): by default the first login of `[buildenv] build_permission`, in
  app.cfg's order, that may also send commands (else its first login, which is then refused). When
  build_permission allows everyone or nobody, the first login of `[bot_control] command_permission`;
  when that lists nobody either, the stand-in login `try-user`. The first output line says which
  login and why.
* **A job tree per run**: `jobs_base_dir/try/<UTC time>-<pid>[-N]/` holds the run's job directories
  (the usual `YYYY.MM/OWNER/REPO/pr_N/...` below it), its `job_ids` links and its trash, and the
  run's deliveries are named after it, so a run never touches another run's jobs (nor the bot's:
  `eessi-bot cleanup`, retention and adoption look at `YYYY.MM` directories and the configured
  job_ids_dir only). It is kept: jobs that outlive the run go on there. Without `--config`, the
  embedded configuration and its job tree live in a directory `eessi-bot-try-*` of the system's
  temporary directory, removed at the end unless jobs go on there.
* **At --timeout**, jobs still running go on (nobody reports their end; their directories hold it);
  jobs still held are cancelled, since nobody would release them once `try` has ended.
* **Exit statuses**: see EXIT_STATUS. A job succeeded when its result is SUCCESS, it ended
  COMPLETED and its test result is not FAILURE (a missing test file is no failure); everything
  else that finished, and a job that could not be submitted, failed.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import io
import os
import re
import shutil
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional, Sequence, TextIO, Tuple

from eessi_bot.adapters.config_files import load_config
from eessi_bot.cli.admin import result
from eessi_bot.cli.demo import PR_NUMBER, write_demo_config
from eessi_bot.cli.errors import CliError
from eessi_bot.cli.local_run import LocalRun, git
from eessi_bot.core.command_text import find_commands
from eessi_bot.core.config import Config, Permission, Problem, Severity
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.events.issue_comment import may_address
from eessi_bot.ports.github import PullRequest

REPO = "try/repository"
STAND_IN = "try-user"
"""The login of the comment when the configuration names nobody (everyone or nobody may build)."""
NEEDS_BUILD_PERMISSION = ("build", "cancel")
SUCCEEDED, FAILED, REFUSED, NOTHING, STILL_RUNNING = 0, 1, 3, 4, 5
EXIT_STATUS = """exit status:
  0    every job succeeded: result SUCCESS, ended COMPLETED, and no test result FAILURE
  1    a job failed: a result other than SUCCESS (FAILURE, UNKNOWN), an end other than COMPLETED
       (FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...), a test result FAILURE, or it could not be
       submitted; also when other jobs still run at --timeout
  2    wrong invocation: no such checkout, branch or base, a configuration with errors, a --timeout
       that is not above 0, an --as that is no GitHub login
  3    the command was refused: the login may not send commands or may not build (see --as)
  4    no job was submitted: no build command for this instance, no node type matches, or an error
       in the command (the printed answer says which)
  5    jobs still run at --timeout: they go on in the job tree printed (held jobs are cancelled)
  70   an internal error (a bug: run again with --debug and report the traceback)
  130  interrupted (Ctrl-C); submitted jobs go on"""
_UNFINISHED = {JobState.SUBMITTED: "submitted, not released yet", JobState.RELEASED: "released, not seen running yet",
               JobState.RUNNING: "still running"}
_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
"""A GitHub login: letters, digits and single hyphens inside (and at most 39 characters)."""


class Verdict(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNFINISHED = "unfinished"


@dataclasses.dataclass(frozen=True)
class Trial:
    """The branch that plays the PR, its base, and what is done with them."""

    branch: str
    head_sha: str
    base: str
    base_sha: str
    command: str
    timeout: float


def run(repo: Path, branch: str, base: str, config_path: Optional[Path], command: str, timeout: float,
        out: TextIO, as_login: Optional[str] = None) -> int:
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(line_buffering=True)  # progress as it happens, into a pipe or a log too
    _check_arguments(timeout, as_login)
    source = _checkout(repo)
    trial = Trial(branch, _revision(repo, branch, "--branch", f"'git -C {repo} branch -a' lists the branches"),
                  base, _revision(repo, base, "--base", "give the PR's base branch with --base"), command, timeout)
    config, problems, cfg_file = _load(config_path)
    login, why = choose_login(config, cfg_file, as_login)
    out.write(f"try: commenting as {login}, {why}\n")
    for problem in problems:
        out.write(problem.render() + "\n")
    status = _run(config, source, trial, login, make_run_tree(config.buildenv.jobs_base_dir), out)
    if config_path is None:
        out.write(_kept(cfg_file.parent) if status == STILL_RUNNING else _remove(cfg_file.parent))
    return status


def _run(config: Config, source: Path, trial: Trial, login: str, tree: Path, out: TextIO) -> int:
    """The PR from a mirror of `source`, the comment through the pipeline, its jobs followed; the report."""
    with tempfile.TemporaryDirectory(prefix="eessi-bot-try-state-") as tmp:
        state = Path(tmp)
        config = for_run(config, tree, state)
        remote = state / "remote.git"
        git(state, "clone", "-q", "--mirror", "--no-local", str(source), str(remote))
        git(remote, "update-ref", f"refs/heads/{trial.base}", trial.base_sha)
        git(remote, "update-ref", f"refs/pull/{PR_NUMBER}/head", trial.head_sha)
        url = f"file://{remote}"
        pull = PullRequest(repo=REPO, number=PR_NUMBER, state="open", base_ref=trial.base, base_sha=trial.base_sha,
                           head_sha=trial.head_sha, clone_url=url, ssh_url=url, html_url=f"file://{source}")
        out.write(f"try: {trial.branch} ({trial.head_sha[:12]}) as a PR against {trial.base} "
                  f"({trial.base_sha[:12]}) on instance {config.instance}, backend {config.buildenv.job_backend}\n"
                  f"try: this run's job tree is {tree}\n\n")
        local = LocalRun(config, out, REPO, pull, delivery_prefix=f"try-{tree.name}")
        try:
            local.command(trial.command, sender=login)
            finished = local.follow(trial.timeout)
            local.show_comments()
            if not finished:
                _cancel_held(local, out)
            jobs = local.runtime.jobs.for_pr(REPO, PR_NUMBER)
            answered = bool(local.github.bodies(REPO, PR_NUMBER))
        finally:
            local.close()
    return report(jobs, refusal(config, login, trial.command), trial.timeout, out, answered, config.instance)


def _kept(root: Path) -> str:
    return f"try: kept {root} (the embedded configuration and the job tree): the jobs go on there\n"


def _remove(root: Path) -> str:
    """Remove the directory of the embedded configuration, read-only directories a job left included
    (links are not followed)."""
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = Path(directory, name)
            if not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.chmod(0o700)
    try:
        shutil.rmtree(root)
    except OSError as exc:
        return f"try: could not remove {root} ({exc}); remove it by hand\n"
    return f"try: removed {root} (the embedded configuration and the job tree); with --config the job tree stays\n"


def _check_arguments(timeout: float, as_login: Optional[str]) -> None:
    if not timeout > 0:
        raise CliError(f"--timeout {timeout:g}: give the seconds to follow the jobs, a number above 0")
    if as_login is not None and not (_LOGIN.fullmatch(as_login) and len(as_login) <= 39):
        raise CliError(f"--as {as_login!r} is not a GitHub login (letters, digits and single hyphens, at most 39)")


def _checkout(repo: Path) -> Path:
    """The repository to clone for `--repo`: the top of the checkout (a subdirectory may be given), or
    the repository itself when it is bare."""
    hint = "give a local checkout of the target repository"
    if not repo.exists():
        raise CliError(f"--repo {repo}: no such directory; {hint}")
    if not repo.is_dir():
        raise CliError(f"--repo {repo} is not a directory; {hint}")
    try:
        if git(repo, "rev-parse", "--is-bare-repository") == "true":
            return repo.resolve()
        return Path(git(repo, "rev-parse", "--show-toplevel"))
    except RuntimeError as exc:
        reason = str(exc).rsplit("failed: ", 1)[-1].splitlines()[0].removeprefix("fatal: ")
        raise CliError(f"--repo {repo} is not a git checkout ({reason}); {hint}") from None


def _revision(repo: Path, name: str, option: str, hint: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", "--end-of-options", f"{name}^{{commit}}")
    except RuntimeError:
        raise CliError(f"{option} {name}: no such branch or commit in {repo}; {hint}") from None


def _load(config_path: Optional[Path]) -> Tuple[Config, List[Problem], Path]:
    """The site's configuration, or the demo's written into a kept directory of its own."""
    if config_path is None:
        root = Path(tempfile.mkdtemp(prefix="eessi-bot-try-"))
        cfg_file = write_demo_config(root)
        config, problems = load_config(cfg_file, env={"HOME": str(root), "USER": "try"})
    else:
        cfg_file = config_path
        config, problems = load_config(config_path)
    if config is None:
        errors = [p for p in problems if p.severity is Severity.ERROR]
        raise CliError(f"{errors[0].render()}\nthe configuration has {len(errors)} error(s); "
                       f"'eessi-bot check-config --config {cfg_file}' lists them all")
    return config, problems, cfg_file


def choose_login(config: Config, cfg_file: Path, as_login: Optional[str]) -> Tuple[str, str]:
    """(login, why): `--as`, else the first configured login that may build and send commands."""
    if as_login is not None:
        return as_login, "given with --as"
    build, command = config.buildenv.build_permission, config.bot_control.command_permission
    builders = _listed(cfg_file, "buildenv", "build_permission", build)
    if builders:
        chosen = next((b for b in builders if command.allows(b)), builders[0])
        which = "" if chosen == builders[0] else " that may also send commands"
        return chosen, f"the first login of [buildenv] build_permission{which}; --as LOGIN chooses another"
    build_says = "allows everyone" if build.everyone else "is empty: nobody may build"
    commanders = _listed(cfg_file, "bot_control", "command_permission", command)
    if commanders:
        return commanders[0], (f"the first login of [bot_control] command_permission ([buildenv] build_permission "
                               f"{build_says}); --as LOGIN chooses another")
    command_says = "allows everyone" if command.everyone else "is empty: nobody may send commands"
    return STAND_IN, (f"a stand-in ([buildenv] build_permission {build_says}, [bot_control] command_permission "
                      f"{command_says}); --as LOGIN chooses another")


def _listed(cfg_file: Path, section: str, key: str, permission: Permission) -> List[str]:
    """The logins of a permission list in app.cfg's order (the parsed Permission has none)."""
    if permission.everyone or not permission.logins:
        return []
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation(), strict=False)
    try:
        parser.read_string(cfg_file.read_text(encoding="utf-8"))
        words = parser.get(section, key, fallback="").strip().strip("\"'").split()
    except (OSError, UnicodeDecodeError, configparser.Error):
        words = []
    ordered = [w for w in dict.fromkeys(words) if w in permission.logins]
    return ordered + sorted(permission.logins - set(ordered))


def make_run_tree(jobs_base_dir: Path) -> Path:
    """`jobs_base_dir/try/<UTC time>-<pid>`, new (a suffix `-N` if another run took that name)."""
    parent = jobs_base_dir / "try"
    name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid()}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 100):
            tree = parent / (name if attempt == 1 else f"{name}-{attempt}")
            try:
                tree.mkdir()
                return tree
            except FileExistsError:
                continue
    except OSError as exc:
        raise CliError(f"cannot make this run's job tree under {parent}: {exc.strerror}; "
                       "check [buildenv] jobs_base_dir") from None
    raise CliError(f"cannot make this run's job tree under {parent}: every name of {name}-N is taken")


def for_run(config: Config, tree: Path, state: Path) -> Config:
    """The configuration with this run's state directory and job tree (jobs, job_ids links, trash)."""
    return dataclasses.replace(
        config,
        bot=dataclasses.replace(config.bot, data_dir=state / "state"),
        buildenv=dataclasses.replace(config.buildenv, jobs_base_dir=tree),
        job_manager=dataclasses.replace(config.job_manager, job_ids_dir=tree / "job_ids"),
        clean_up=dataclasses.replace(config.clean_up, trash_bin_dir=tree / "trash_bin"))


def refusal(config: Config, login: str, comment: str) -> Optional[str]:
    """Why the bot refuses `login`'s comment (the event handler's and `bot: build`'s rules), if it does."""
    lines = [line for line in find_commands(comment) if may_address(line, config.instance)]
    if not lines:
        return None
    command = config.bot_control.command_permission
    if not command.allows(login):
        return f"{login} may not send commands ([bot_control] command_permission: {command.describe()})"
    build = config.buildenv.build_permission
    if any(line.name in NEEDS_BUILD_PERMISSION for line in lines) and not build.allows(login):
        return f"{login} may not build ([buildenv] build_permission: {build.describe()})"
    return None


def verdict(job: Job) -> Tuple[Verdict, str]:
    """How a job of the run came out, and in words (its result as `eessi-bot jobs` shows it)."""
    if job.state is JobState.SUBMIT_FAILED:
        return Verdict.FAILED, f"could not be submitted: {job.error or 'no reason known'}"
    if job.state is not JobState.FINISHED:
        return Verdict.UNFINISHED, "cancelled while held" if job.cancelled_by else _UNFINISHED.get(
            job.state, f"still {job.state.value}")
    text = result(job) + (", tests FAILURE" if job.test_status == "FAILURE" else "")
    ok = job.result_status == "SUCCESS" and job.end_state == "COMPLETED" and job.test_status != "FAILURE"
    return (Verdict.SUCCEEDED if ok else Verdict.FAILED), text


def exit_status(jobs: Sequence[Job], refused: Optional[str]) -> int:
    """Refused, else nothing submitted, else a failure, else jobs still running, else success."""
    if refused is not None:
        return REFUSED
    if not jobs:
        return NOTHING
    verdicts = [verdict(job)[0] for job in jobs]
    if Verdict.FAILED in verdicts:
        return FAILED
    return STILL_RUNNING if Verdict.UNFINISHED in verdicts else SUCCEEDED


def report(jobs: Sequence[Job], refused: Optional[str], timeout: float, out: TextIO, answered: bool,
           instance: str) -> int:
    """Each job's outcome and directory, then one line that says what the exit status says (`answered`:
    whether the bot posted anything that could say why nothing was submitted)."""
    out.write("\n")
    for job in jobs:
        out.write(f"try: job {job.job_id or '-'} ({job.node_type}, {job.repo_id}): {verdict(job)[1]}; "
                  f"{job.job_dir}\n")
    status = exit_status(jobs, refused)
    failed = sum(1 for job in jobs if verdict(job)[0] is Verdict.FAILED)
    going = sum(1 for job in jobs if verdict(job)[0] is Verdict.UNFINISHED and not job.cancelled_by)
    out.write({
        SUCCEEDED: "try: every job succeeded\n",
        FAILED: f"try: {failed} of {len(jobs)} job(s) failed\n",
        REFUSED: f"try: refused: {refused}; --as LOGIN comments as someone else\n",
        NOTHING: "try: no job was submitted; the bot's answer above says why\n" if answered else
                 f"try: no job was submitted and the bot stays silent (see above); instance:{instance} in the "
                 "command makes it say why\n",
        STILL_RUNNING: (f"try: {going} job(s) not finished after {timeout:g} s; they go on, and their "
                        "directories will hold their results\n") if going else
                       f"try: jobs did not finish within {timeout:g} s; the held ones were cancelled\n",
    }[status])
    return status


def _cancel_held(local: LocalRun, out: TextIO) -> None:
    """Held jobs would wait for ever once `try` has ended (nobody releases them): they are cancelled."""
    if local.config.buildenv.delayed_begin:
        return
    held = [job.job_id for job in local.runtime.jobs.for_pr(REPO, PR_NUMBER)
            if job.state is JobState.SUBMITTED and job.job_id]
    if held:
        local.runtime.job_service.cancel(REPO, PR_NUMBER, held, "eessi-bot try (timeout)")
        out.write(f"try: cancelled held job(s) {', '.join(held)}: nobody would release them once try has ended\n")
