"""The `local` backend: each job is a detached local process (a `setsid` wrapper), held until released.

The wrapper (`data/local-job.sh`, whose header is the contract) writes its pid and start time, waits for a
release file (the hold), runs the job script with `SLURM_JOB_ID` set, and records the exit code and end
state in files of the job directory, so jobs outlive a restart of the bot and are taken up again from
those files. The bot only reads and creates files (and, for a lost wrapper, signals the job's processes):

* no job dir, no `_bot_local.id`, or another job's id in it: absent (unknown);
* no `_bot_local.pid` yet, or not yet a whole line (the wrapper is starting): PENDING, held, reason
  JobHeldUser; still none STARTUP_GRACE seconds after the submission: NODE_FAIL, reason NEVER_STARTED_REASON.
  One read of the pid file decides: a job is not started until that read shows the wrapper's line;
* wrapper alive, no `_bot_local.release`: PENDING, held, reason JobHeldUser;
* wrapper alive, release file: RUNNING; with a `_bot_local.cancel` too: COMPLETING (being stopped);
* wrapper gone, `_bot_local.exit` "CODE STATE": STATE (COMPLETED, FAILED, CANCELLED or TIMEOUT), exit
  code "CODE:0"; an exit file that does not read so: FAILED, exit code None;
* wrapper gone without an exit file (killed, e.g. kill -9): NODE_FAIL, reason LOST_REASON, exit code None.
  The job's processes may live on (they are in a session of their own): `cancel` ends them through the
  process group the wrapper recorded in `_bot_local.pgid`.

"Wrapper alive" means /proc/PID exists, is not a zombie, and has the start time of the pid file (a pid
reused by another process is not the wrapper). The exit file counts only once the wrapper is gone: it
writes that file as its last act, so this costs at most one poll, and a job script (which runs in the
job dir) that writes `_bot_local.exit` itself cannot end its job early in the bot's eyes.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from importlib import resources
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from eessi_bot.adapters import process
from eessi_bot.jobs.files import read_text, write_new
from eessi_bot.ports.scheduler import JobStatus, SchedulerUnavailable, Submission, SubmitError, Tracked

log = logging.getLogger(__name__)

ID_FILE = "_bot_local.id"
PID_FILE = "_bot_local.pid"
PGID_FILE = "_bot_local.pgid"
RELEASE_FILE = "_bot_local.release"
CANCEL_FILE = "_bot_local.cancel"
EXIT_FILE = "_bot_local.exit"
LOG_FILE = "_bot_local.log"
"""The wrapper's own messages (the job's output goes to slurm-<ID>.out)."""
HELD_REASON = "JobHeldUser"
LOST_STATE = "NODE_FAIL"
"""How a job whose wrapper vanished without writing its exit file ends (Slurm's word for a job whose node
died under it). Its processes may live on: `cancel` ends them."""
LOST_REASON = "the job's process vanished"
NEVER_STARTED_REASON = "the job's wrapper never started"
STARTUP_GRACE = 60.0
"""Seconds after the submission (`_bot_local.id`) by which the wrapper must have written its pid file."""
END_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
"""What the wrapper writes into its exit file."""
DEFAULT_TIME_LIMIT_SECONDS = 24 * 3600
_TIME = re.compile(r"^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2})$")
_PID_LINE = re.compile(r"(\d+) (\d*)\n", re.ASCII)
_EXIT_LINE = re.compile(r"(\d+) ([A-Z]+)\n?", re.ASCII)


def package_script(name: str) -> Path:
    """A script shipped in the package (`eessi_bot/data/...`)."""
    return Path(str(resources.files("eessi_bot") / "data" / name))


def time_limit_seconds(options: Sequence[str]) -> int:
    """Slurm's `--time`/`-t` in seconds (24 h if absent), so the local backend enforces the same limit.

    Formats as sbatch: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
    """
    value = None
    for index, option in enumerate(options):
        if option.startswith("--time="):
            value = option.split("=", 1)[1]
        elif option in ("--time", "-t") and index + 1 < len(options):
            value = options[index + 1]
        elif option.startswith("-t") and len(option) > 2:
            value = option[2:]
    if value is None:
        return DEFAULT_TIME_LIMIT_SECONDS
    if not _TIME.match(value):
        raise SubmitError(f"cannot understand the time limit {value!r}")
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:
        hours, minutes, seconds = ([*parts, 0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        hours, (minutes, seconds) = 0, ([*parts, 0])[:2]
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds


def _stat(pid: int) -> Optional[List[str]]:
    """Fields 3.. of /proc/PID/stat (state, ppid, pgrp, ..., field 22 = index 19: start time), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # field 2, the command name, may contain spaces and ')'
    return fields if len(fields) > 19 else None


def _read_pid_file(path: Path) -> Optional[Tuple[int, str]]:
    """The line "PID START_TIME" as (pid, start time), start time "" when the wrapper could not read it.

    None while the file is missing or is not such a whole line (the wrapper writes the line in one go and
    renames it into place): a file that is empty or cut short says nothing yet.
    """
    match = _PID_LINE.fullmatch(read_text(path) or "")
    if match is None or int(match.group(1)) <= 1:
        return None
    return int(match.group(1)), match.group(2)


def _alive(pid: int, start_time: str) -> bool:
    """The process `pid` runs (not a zombie) and is the one that started at `start_time`."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == start_time


def _group_members(pgid: int) -> List[int]:
    """Live (non-zombie) processes in the process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z" and fields[2] == str(pgid):
                members.append(int(entry.name))
    return members


def _own_group(job_dir: Path) -> Optional[int]:
    """The job's process group (from the pgid file) while it still has live processes, else None.

    A pid is not reused while it names a process group with members, so when /proc/PGID is gone the
    members of group PGID are the job's orphans; when /proc/PGID exists it must be the job's leader (same
    start time), else the number was reused after the job's group emptied.
    """
    recorded = _read_pid_file(job_dir / PGID_FILE)
    if recorded is None:
        return None
    pgid, start_time = recorded
    if pgid == os.getpgrp():
        return None
    leader = _stat(pgid)
    if leader is not None and (not start_time or leader[19] != start_time):
        return None
    return pgid if _group_members(pgid) else None


class LocalScheduler:
    def __init__(self, allocate_id: Callable[[], str], wrapper: Optional[Path] = None,
                 kill_wait: float = 5.0) -> None:
        self.allocate_id = allocate_id
        self.wrapper = wrapper or package_script("local-job.sh")
        self.kill_wait = kill_wait
        """Seconds between SIGTERM and SIGKILL when `cancel` ends the processes of a lost job (as the
        wrapper's KILL_WAIT)."""

    def submit(self, submission: Submission) -> str:
        limit = time_limit_seconds(submission.options)
        job_id = self.allocate_id()
        write_new(submission.job_dir / ID_FILE, f"{job_id} {submission.marker}\n".encode())
        argv = ["setsid", "--fork", "bash", str(self.wrapper), str(submission.job_dir), job_id,
                str(submission.script), str(limit)]
        log_path = submission.job_dir / LOG_FILE
        try:
            write_new(log_path, b"")
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "ab") as log:
                # The wrapper outlives this call and keeps writing to the log: output goes there, not to a pipe.
                result = process.run(argv, env=submission.environment, timeout=30, cwd=submission.job_dir,
                                     output=log)
        except (OSError, process.TimedOut) as exc:
            raise SubmitError(f"cannot start the local job: {exc}") from exc
        if result.returncode != 0:
            raise SubmitError(f"cannot start the local job: {(read_text(log_path, 1000) or '')[-1000:]}")
        return job_id

    def find(self, submission: Submission) -> Optional[str]:
        """A job started before a crash left its id (and marker) in the job directory."""
        id_file = submission.job_dir / ID_FILE
        if not id_file.exists() or not (submission.job_dir / PID_FILE).exists():
            return None
        job_id, _, marker = (read_text(id_file) or "").strip().partition(" ")
        return job_id if marker == submission.marker else None

    # -- following jobs ------------------------------------------------------------------------------
    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """The state of each job from the files in its job dir (see the module's table); no subprocess."""
        statuses = {}
        for job in jobs:
            status = self._status(job)
            if status is not None:
                statuses[job.job_id] = status
        return statuses

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """What `poll` says about jobs that ended (from `_bot_local.exit`, or the lost-wrapper status), so
        the manager follows both backends alike. Jobs still running or unknown are absent."""
        return {job_id: status for job_id, status in self.poll(jobs).items() if status.terminal}

    def release(self, job: Tracked) -> None:
        """Create the release file (idempotent). A job that ended or whose dir is gone needs none."""
        status = self._status(job)
        if status is None or status.terminal:
            log.info("job %s: not released (%s)", job.job_id, status.state if status else "unknown",
                     extra={"job_id": job.job_id})
            return
        self._touch(job, RELEASE_FILE)

    def cancel(self, job: Tracked) -> None:
        """Create the cancel file: the wrapper stops the job (SIGTERM, SIGKILL after its KILL_WAIT) and writes
        CANCELLED. When the wrapper is lost, the job's process group gets SIGTERM and, after `kill_wait`
        seconds, SIGKILL here. A job that ended or whose dir is gone is fine."""
        status = self._status(job)
        if status is None or (status.terminal and status.state != LOST_STATE):
            log.info("job %s: nothing to cancel (%s)", job.job_id, status.state if status else "unknown",
                     extra={"job_id": job.job_id})
            return
        self._touch(job, CANCEL_FILE)
        if status.state == LOST_STATE:
            self._kill_group(job)

    # -- helpers -------------------------------------------------------------------------------------
    def _status(self, job: Tracked) -> Optional[JobStatus]:
        job_dir = job.job_dir
        recorded = read_text(job_dir / ID_FILE)
        if recorded is None:
            return None  # no job dir, or never submitted here
        recorded_id = recorded.split()
        if not recorded_id or recorded_id[0] != job.job_id:
            return None  # the dir belongs to another submission
        # ONE read decides whether the wrapper started: looking again (say, whether the file exists) could
        # see a pid file written just after this read, and take a starting job for a lost one.
        pid = _read_pid_file(job_dir / PID_FILE)
        if pid is None:
            return self._not_started(job_dir)
        if _alive(*pid):
            if not (job_dir / RELEASE_FILE).exists():
                return JobStatus("PENDING", reason=HELD_REASON, held=True)
            if (job_dir / CANCEL_FILE).exists():
                return JobStatus("COMPLETING", reason="cancel requested")
            return JobStatus("RUNNING")
        # The wrapper is gone. It writes the exit file before it exits, so the file is there if it ever will be.
        ended = self._exit_record(job_dir)
        return ended if ended is not None else JobStatus(LOST_STATE, reason=LOST_REASON)

    @staticmethod
    def _not_started(job_dir: Path) -> Optional[JobStatus]:
        """A job whose wrapper has not written its pid file: held, until STARTUP_GRACE says it never will."""
        try:
            age = time.time() - (job_dir / ID_FILE).stat().st_mtime
        except OSError:
            return None
        if age > STARTUP_GRACE:
            return JobStatus(LOST_STATE, reason=NEVER_STARTED_REASON)
        return JobStatus("PENDING", reason=HELD_REASON, held=True)

    @staticmethod
    def _exit_record(job_dir: Path) -> Optional[JobStatus]:
        text = read_text(job_dir / EXIT_FILE)
        if text is None:
            return None
        match = _EXIT_LINE.fullmatch(text)
        if match is not None and match.group(2) in END_STATES:
            return JobStatus(match.group(2), exit_code=f"{int(match.group(1))}:0")
        return JobStatus("FAILED", reason=f"unreadable {EXIT_FILE}")

    @staticmethod
    def _touch(job: Tracked, name: str) -> None:
        path = job.job_dir / name
        try:
            # Creating a file is atomic; the wrapper only looks whether it exists.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        except FileNotFoundError:
            log.info("job %s: its job directory is gone", job.job_id, extra={"job_id": job.job_id})
        except OSError as exc:
            raise SchedulerUnavailable(f"cannot create {path}: {exc}") from exc

    def _kill_group(self, job: Tracked) -> None:
        """End what is left of a lost job: SIGTERM to its process group, SIGKILL after `kill_wait` s."""
        pgid = _own_group(job.job_dir)
        if pgid is None:
            return
        log.info("job %s: its wrapper is gone; ending its process group %d", job.job_id, pgid,
                 extra={"job_id": job.job_id})
        deadline = time.monotonic() + self.kill_wait
        try:
            os.killpg(pgid, signal.SIGTERM)
            while time.monotonic() < deadline:
                if not _group_members(pgid):
                    return
                time.sleep(0.05)
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise SchedulerUnavailable(f"cannot signal the processes of job {job.job_id}: {exc}") from exc
