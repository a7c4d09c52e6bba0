"""Slurm through its commands (sbatch, squeue), with argv lists and an explicit job environment."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from typing import Mapping, Optional, Sequence, Tuple

from eessi_bot.ports.scheduler import Submission, SubmitError

DEFAULT_TIME_LIMIT = "24:00:00"
_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
_PARSABLE = re.compile(r"^(\d+)(;\S+)?$")
TIMEOUT = 120


def has_time_limit(options: Sequence[str]) -> bool:
    return any(o.startswith("--time") or o.startswith("-t") for o in options)


def sbatch_argv(submit_command: Sequence[str], submission: Submission) -> Tuple[str, ...]:
    """The sbatch command line of reference §5.5: `--hold` once, a default time limit, the job name,
    plus the marker (`--comment`) and an explicit environment (`--export` of named variables only)."""
    argv = [*submit_command]
    if submission.hold:
        argv.append("--hold")
    elif submission.begin_delay is not None:
        argv.append(f"--begin=now+{submission.begin_delay}")
    if not has_time_limit(submission.options):
        argv.append(f"--time={DEFAULT_TIME_LIMIT}")
    argv += submission.options
    argv += [f"--job-name={submission.name}", f"--comment={submission.marker}",
             "--export=" + ",".join(sorted(submission.environment)), str(submission.script)]
    return tuple(argv)


def sbatch_environment(job_environment: Mapping[str, str]) -> dict:  # type: ignore[type-arg]
    """sbatch's own environment: the job's (what `--export` names) plus Slurm's client settings."""
    env = dict(job_environment)
    env.update({k: v for k, v in os.environ.items() if k.startswith("SLURM_") and k != "SLURM_JOB_ID"})
    return env


class SlurmScheduler:
    def __init__(self, submit_command: Sequence[str], poll_command: Sequence[str]) -> None:
        self.submit_command = tuple(submit_command)
        self.poll_command = tuple(poll_command)

    def submit(self, submission: Submission) -> str:
        argv = sbatch_argv(self.submit_command, submission)
        try:
            result = subprocess.run(argv, cwd=submission.job_dir, env=sbatch_environment(submission.environment),
                                    capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SubmitError(f"cannot run {argv[0]}: {exc}") from exc
        output = result.stdout.strip()
        if result.returncode != 0:
            raise SubmitError((result.stderr.strip() or output or f"{argv[0]} exited with {result.returncode}")[-2000:])
        found = _SUBMITTED.search(output)
        if found:
            return found.group(1)
        parsable = _PARSABLE.match(output.splitlines()[-1] if output else "")
        if parsable:
            return parsable.group(1)
        raise SubmitError(f"cannot read a job id from the output of {argv[0]}: {output[-500:]!r}")

    def find(self, submission: Submission) -> Optional[str]:
        argv = [*self.poll_command, "--noheader", "--states=all", f"--name={submission.name}",
                f"--user={getpass.getuser()}",
                "--format=%i %k"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False,
                                env=sbatch_environment({"PATH": os.environ.get("PATH", "/usr/bin:/bin")}))
        if result.returncode != 0:
            raise SubmitError(f"cannot look for an earlier submission: {result.stderr.strip()[-500:]}")
        for line in result.stdout.splitlines():
            job_id, _, comment = line.strip().partition(" ")
            if comment.strip() == submission.marker:
                return job_id
        return None
