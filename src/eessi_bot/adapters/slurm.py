"""Slurm through its commands (sbatch, squeue, sacct, scontrol, scancel), with argv lists, timeouts and an
explicit environment."""

from __future__ import annotations

import logging
import os
import pwd
import re
import threading
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from eessi_bot.adapters import process
from eessi_bot.adapters.process import Finished
from eessi_bot.ports.scheduler import (
    TERMINAL_STATES,
    JobStatus,
    SchedulerUnavailable,
    Submission,
    SubmitError,
    Tracked,
)

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = "24:00:00"
_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
_PARSABLE = re.compile(r"^(\d+)(;\S+)?$")
"""Seconds sbatch may take."""
POLL_TIMEOUT = 60.0
"""Seconds squeue, sacct, scontrol and scancel may take."""

SEP = "\x1f"
"""Field separator of squeue/sacct output (ASCII unit separator): `|` occurs in constraints, `,` in node
lists, spaces in reasons; control characters occur in none of the fields read here."""
SQUEUE_FIELDS = ("JobID", "State", "Reason", "Partition", "Cluster", "EligibleTime")
"""`squeue --Format` fields, each as `Field:0<SEP>`: width 0 prints the whole value, unpadded. `--Format`
rather than `-o` because only it has the cluster name. State is the long name (PENDING, COMPLETED, ...)."""
SQUEUE_KEYS = ("jobid", "state", "reason", "partition", "cluster", "eligible_time")
"""The names of SQUEUE_FIELDS in a cached row; the first five are the `%(...)s` fields of scontrol_command."""
TEMPLATE_FIELDS = SQUEUE_KEYS[:5]
SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Partition", "End", "Cluster")
HELD_REASONS = frozenset({"JobHeldUser"})
"""Holds the bot may end: an admin's hold (JobHeldAdmin) is not the bot's to release."""
_UNDEFINED = frozenset({"", "N/A", "(null)", "None", "Unknown"})
_JOB_ID = re.compile(r"^\d+$")
_CLUSTER_HEADER = re.compile(r"^CLUSTER: \S+\s*$")
"""squeue -M a,b prints a header line per cluster."""
_ACCOUNTING_DISABLED = "accounting storage is disabled"
_GONE = ("Invalid job id", "already finished", "already completing or completed", "already completed")
"""What scontrol/scancel say about a job that ended or that slurmctld forgot (exit 1)."""


def has_time_limit(options: Sequence[str]) -> bool:
    """`--time`, `--time=...`, `-t ...` or `-t...` (not `--time-min`, which is another option)."""
    return any(o in ("--time", "-t") or o.startswith("--time=") or (o.startswith("-t") and not o.startswith("--"))
               for o in options)


def sbatch_argv(submit_command: Sequence[str], submission: Submission) -> Tuple[str, ...]:
    """The sbatch command line of reference §5.5: `--hold` once, a default time limit, the job name,
    plus the marker (`--comment`) and an explicit environment (`--export` of named variables only).
    `--export` comes last: sbatch takes the last one, and the command line wins over `#SBATCH` lines, so
    no site option or job script hands the bot's environment to a job (config leaves a site's out)."""
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


def client_environment() -> Dict[str, str]:
    """The environment of squeue, sacct, scontrol and scancel: PATH and the bot's SLURM_* settings only."""
    return sbatch_environment({"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def fill_template(command: Sequence[str], fields: Mapping[str, str]) -> List[str]:
    """`command` with every element that contains `%(` %-formatted with the job's squeue fields
    (jobid, cluster, partition, state, reason), as the EESSI bot fills its scontrol_command."""
    values = {key: fields.get(key) or "" for key in TEMPLATE_FIELDS}
    return [part % values if "%(" in part else part for part in command]


def template_problem(command: Sequence[str]) -> Optional[str]:
    """Why `command` cannot be filled by `fill_template` (an unknown field, a lone `%`), or None."""
    try:
        fill_template(command, dict.fromkeys(TEMPLATE_FIELDS, "x"))
    except KeyError as exc:
        return (f"{' '.join(command)!r}: unknown field %({exc.args[0]})s; "
                f"known: {', '.join(f'%({key})s' for key in TEMPLATE_FIELDS)}")
    except (ValueError, TypeError) as exc:
        return f"{' '.join(command)!r}: {exc} (write a literal % as %%)"
    return None


def _login_name() -> str:
    """The user the jobs belong to (the process's uid, not $USER); the numeric uid without a passwd entry."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _defined(value: str) -> Optional[str]:
    return None if value in _UNDEFINED else value


def _status(row: Mapping[str, str]) -> JobStatus:
    state = row["state"]
    reason = "" if row["reason"] in ("None", "(null)") else row["reason"]
    return JobStatus(state=state, reason=reason, held=state == "PENDING" and reason in HELD_REASONS,
                     eligible_time=_defined(row["eligible_time"]) if state == "PENDING" else None,
                     cluster=_defined(row["cluster"]), partition=_defined(row["partition"]))


def _read_line(command: str, line: str) -> Tuple[Dict[str, str], JobStatus]:
    """One line of squeue's `--Format` output: its fields by SQUEUE_KEYS, and the job's status."""
    values = line.split(SEP)
    # Every field ends with SEP (it is the --Format suffix): n fields give n+1 pieces, the last empty.
    if len(values) != len(SQUEUE_FIELDS) + 1 or values[-1].strip() or not values[0].strip():
        raise SchedulerUnavailable(f"{command}: cannot read the line {line[:300]!r}")
    row = {key: value.strip() for key, value in zip(SQUEUE_KEYS, values)}
    return row, _status(row)


def _failure(argv: Sequence[str], result: Finished) -> str:
    said = (result.stderr_text.strip() or result.stdout_text.strip())[-500:]
    failed = f"{argv[0]} exited with {result.returncode}"
    return f"{failed}: {said}" if said else failed


class SlurmScheduler:
    """Slurm through its commands: `sbatch` to submit, ONE `squeue` per poll for all jobs of this instance,
    ONE `sacct` for jobs that left the queue, `scontrol release`, `scancel`.

    Every call runs an argv list (no shell) with a timeout and the environment of `client_environment`
    (PATH and the bot's SLURM_* settings, nothing else). A call that fails, hangs or answers nonsense raises
    SchedulerUnavailable; an empty answer is a valid answer.

    Multi-cluster Slurm (the EESSI bot's `scontrol_command` templating): an element of `scontrol_command`
    or `scancel_command` that contains `%(` is %-formatted per job with the fields of the job's last squeue
    row: `%(jobid)s %(cluster)s %(partition)s %(state)s %(reason)s` (app.cfg writes them `%%(...)s`; any
    other `%` in such an element must be doubled too). `release` and `cancel` get only a `Tracked`, so
    `poll` keeps the last row of every job it saw (a cache refreshed at every poll, holding only jobs that
    squeue still shows); when a templated command is needed for a job that no poll of this instance has
    seen yet (just after a restart), one extra `squeue` fills it, and a job squeue does not show needs no
    release or cancel. Commands without `%(` never need the cache. `end_states` prefers the sacct row of
    the cluster squeue showed, should `sacct_command` name several clusters (`-M a,b`).
    """

    def __init__(self, submit_command: Sequence[str], poll_command: Sequence[str],
                 scontrol_command: Sequence[str] = ("scontrol",), job_name: Optional[str] = None,
                 user: Optional[str] = None, scancel_command: Sequence[str] = ("scancel",),
                 sacct_command: Sequence[str] = ("sacct",), timeout: float = POLL_TIMEOUT) -> None:
        self.submit_command = tuple(submit_command)
        self.poll_command = tuple(poll_command)
        self.scontrol_command = tuple(scontrol_command)
        self.scancel_command = tuple(scancel_command)
        self.sacct_command = tuple(sacct_command)
        self.job_name = job_name
        """`--name` of every squeue; None: all jobs of the user are read (and filtered by id)."""
        self.user = user or _login_name()
        self.timeout = timeout
        for command in (self.scontrol_command, self.scancel_command):
            problem = template_problem(command)
            if problem:
                raise ValueError(problem)
        self._rows: Dict[str, Dict[str, str]] = {}
        self._lock = threading.Lock()
        self._lines: Dict[str, Tuple[Dict[str, str], JobStatus]] = {}
        """The last squeue's lines, read: most lines are the same at the next poll (held, pending, running
        jobs), and reading each only once keeps a poll of 5,000 jobs cheap."""

    def submit(self, submission: Submission) -> str:
        """sbatch; SubmitError when Slurm refuses the job (shown on the PR). When sbatch cannot be run or
        does not answer in time, whether the job exists is unknown: SchedulerUnavailable (the caller
        looks for it by its marker before submitting again)."""
        argv = sbatch_argv(self.submit_command, submission)
        result = self._run(argv, cwd=submission.job_dir, env=sbatch_environment(submission.environment))
        output = result.stdout_text.strip()
        if result.returncode != 0:
            said = result.stderr_text.strip() or output or f"{argv[0]} exited with {result.returncode}"
            raise SubmitError(said[-2000:])
        found = _SUBMITTED.search(output)
        if found:
            return found.group(1)
        parsable = _PARSABLE.match(output.splitlines()[-1] if output else "")
        if parsable:
            return parsable.group(1)
        raise SubmitError(f"cannot read a job id from the output of {argv[0]}: {output[-500:]!r}")

    def find(self, submission: Submission) -> Optional[str]:
        """An earlier submission of this job, by the marker sbatch stored as its comment."""
        argv = [*self.poll_command, "--noheader", "--states=all", f"--name={submission.name}",
                f"--user={self.user}", "--format=%i %k"]
        result = self._run(argv)
        if result.returncode != 0:
            raise SchedulerUnavailable(_failure(argv, result))
        for line in result.stdout_text.splitlines():
            job_id, _, comment = line.strip().partition(" ")
            if comment.strip() == submission.marker:
                return job_id
        return None

    # -- following jobs ------------------------------------------------------------------------------
    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """ONE `squeue --states=all --name=JOB_NAME --user=USER` for all jobs; statuses of `jobs` only.

        Finished jobs stay in squeue for MinJobAge seconds and come back with their end state (exit_code
        None: the caller asks `end_states`). A job squeue does not show is absent; an empty answer with
        exit 0 is such an answer, not an error.
        """
        wanted = {job.job_id for job in jobs}
        if not wanted:
            return {}
        rows = self._squeue()
        found = {job_id: rows[job_id] for job_id in wanted if job_id in rows}
        with self._lock:
            # The cache holds what squeue still shows: rows of jobs it dropped (MinJobAge) go.
            self._rows = {job_id: row for job_id, row in self._rows.items() if job_id in rows}
            self._rows.update((job_id, row) for job_id, (row, _) in found.items())
        return {job_id: status for job_id, (_, status) in found.items()}

    def _squeue(self) -> Dict[str, Tuple[Dict[str, str], JobStatus]]:
        argv = [*self.poll_command, "--noheader", "--states=all"]
        if self.job_name is not None:
            argv.append(f"--name={self.job_name}")
        argv += [f"--user={self.user}", "--Format=" + ",".join(f"{field}:0{SEP}" for field in SQUEUE_FIELDS)]
        result = self._run(argv)
        if result.returncode != 0:
            raise SchedulerUnavailable(_failure(argv, result))
        lines: Dict[str, Tuple[Dict[str, str], JobStatus]] = {}
        rows: Dict[str, Tuple[Dict[str, str], JobStatus]] = {}
        for line in result.stdout_text.splitlines():
            read = self._lines.get(line)
            if read is None:
                if not line.strip() or _CLUSTER_HEADER.match(line):
                    continue
                read = _read_line(argv[0], line)
            lines[line] = read
            rows[read[0]["jobid"]] = read
        self._lines = lines
        return rows

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """ONE `sacct -X` for `jobs`: the end state ("CANCELLED by 0" -> CANCELLED) and ExitCode of each job
        whose accounting row is final. A job sacct does not know, or still shows as PENDING/RUNNING or as
        the placeholder row it shows for a few seconds around a job's start and end (JobName "allocation",
        no Partition), is absent: not known yet.

        Without accounting (`sacct` says "Slurm accounting storage is disabled") the answer is `{}`: the
        manager then decides from the end marker file the job script writes (`_bot_job<ID>.done`).
        """
        ids = sorted({job.job_id for job in jobs if _JOB_ID.match(job.job_id)}, key=int)
        if not ids:
            return {}
        argv = [*self.sacct_command, "-X", "-n", "-P", f"--delimiter={SEP}", "-j", ",".join(ids),
                "-o", ",".join(SACCT_FIELDS)]
        result = self._run(argv)
        if result.returncode != 0:
            if _ACCOUNTING_DISABLED in result.stderr_text.lower():
                log.debug("Slurm accounting is disabled: no end states from sacct")
                return {}
            raise SchedulerUnavailable(_failure(argv, result))
        found: Dict[str, List[Dict[str, str]]] = {}
        for line in result.stdout_text.splitlines():
            if not line.strip():
                continue
            values = line.split(SEP)
            if len(values) != len(SACCT_FIELDS):
                raise SchedulerUnavailable(f"{argv[0]}: cannot read the line {line[:300]!r}")
            row = dict(zip(SACCT_FIELDS, (v.strip() for v in values)))
            if row["JobID"] in ids:
                found.setdefault(row["JobID"], []).append(row)
        with self._lock:
            clusters = {job_id: self._rows.get(job_id, {}).get("cluster") for job_id in found}
        statuses: Dict[str, JobStatus] = {}
        for job_id, candidates in found.items():
            cluster = clusters.get(job_id)
            if cluster and len({c["Cluster"] for c in candidates}) > 1:
                candidates = [c for c in candidates if c["Cluster"] == cluster] or candidates
            row = candidates[-1]  # the newest, should the id have been used before (a purged controller)
            status = self._final(row)
            if status is not None:
                statuses[job_id] = status
        return statuses

    def _final(self, row: Dict[str, str]) -> Optional[JobStatus]:
        state = row["State"].split(" ")[0]
        if state not in TERMINAL_STATES or not row["Partition"] or row["End"] in ("", "Unknown", "None"):
            return None
        if row["JobName"] == "allocation" and self.job_name not in (None, "allocation"):
            return None
        return JobStatus(state=state, exit_code=row["ExitCode"] or None, cluster=row["Cluster"] or None,
                         partition=row["Partition"] or None)

    def release(self, job: Tracked) -> None:
        """`scontrol release ID` (scontrol_command templated for the job). A job that ended or that Slurm
        no longer knows needs no release: logged, not raised."""
        self._act(self.scontrol_command, ["release", job.job_id], job, "released")

    def cancel(self, job: Tracked) -> None:
        """`scancel ID` (scancel_command templated like scontrol_command). A job that ended or that Slurm
        no longer knows is fine."""
        self._act(self.scancel_command, [job.job_id], job, "cancelled")

    def _act(self, command: Tuple[str, ...], args: List[str], job: Tracked, done: str) -> None:
        filled = self._command(command, job)
        if filled is None:
            log.info("job %s: not %s, squeue no longer shows it", job.job_id, done, extra={"job_id": job.job_id})
            return
        argv = [*filled, *args]
        result = self._run(argv)
        if result.returncode == 0:
            return
        if any(text in result.stderr_text for text in _GONE):
            log.info("job %s: not %s: %s", job.job_id, done, result.stderr_text.strip().splitlines()[-1],
                     extra={"job_id": job.job_id})
            return
        raise SchedulerUnavailable(_failure(argv, result))

    # -- helpers -------------------------------------------------------------------------------------
    def _command(self, command: Tuple[str, ...], job: Tracked) -> Optional[List[str]]:
        """`command` with the job's fields filled in; None when they are needed but squeue has no row."""
        if not any("%(" in part for part in command):
            return list(command)
        with self._lock:
            row = self._rows.get(job.job_id)
        if row is None:
            self.poll([job])
            with self._lock:
                row = self._rows.get(job.job_id)
            if row is None:
                return None
        return fill_template(command, row)

    def _run(self, argv: Sequence[str], cwd: Optional[Path] = None,
             env: Optional[Mapping[str, str]] = None) -> Finished:
        """Run a Slurm command with the timeout (killed with whatever it started, a site's wrapper script say)."""
        try:
            return process.run(argv, env=client_environment() if env is None else env, timeout=self.timeout, cwd=cwd)
        except OSError as exc:
            raise SchedulerUnavailable(f"cannot run {argv[0]}: {exc}") from exc
        except process.TimedOut as exc:
            raise SchedulerUnavailable(f"{argv[0]} did not answer within {self.timeout:g} s") from exc
