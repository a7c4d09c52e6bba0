"""Helpers for tests against the real Slurm that `scripts/slurm-up.sh` starts (one machine, loopback only).

`scripts/test.sh` starts Slurm when it runs as root and then sets `EESSI_BOT_SLURM=1`. With that variable
a test that needs Slurm FAILS when Slurm does not answer; without it such a test is skipped. So CI cannot
skip the Slurm tests silently.

The cluster (see `scripts/slurm-up.sh`): nodes n1 (x86_64,zen2), n2 (x86_64,zen3), n3 (x86_64,zen4) and
n4 (aarch64,neoverse_v1), 2 CPUs each; partition `debug` (default, all nodes) and one partition per feature.

What Slurm shows, and where (Slurm 22.05):
* `squeue` knows a job from submit until `MinJobAge` (300 s) after it ended, but only with `-t all`
  shows jobs that already ended; `squeue_job` passes it. After that `squeue -j` exits 1
  ("Invalid job id specified"); `sacct` has the job for good.
* `sacct` lags behind: for a few seconds it may show a placeholder row (JobName "allocation", no
  Partition; State still PENDING for a job that is RUNNING or finished, or already final while name and
  partition are missing, up to ~5 s after the job ended); `sacct_job` waits for a complete final row.
* `sacct` does not show the job comment (the column stays empty unless `AccountingStoreFlags=job_comment`,
  which sites need not set), so the bot must find its jobs by comment through squeue/scontrol.
* A job's environment is not visible from outside: make the job write `env -0` to a file and read it with
  `read_env0`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import pytest

SLURM_ENV = "EESSI_BOT_SLURM"
SKIP_REASON = "Slurm is not running; scripts/test.sh starts it as root"

# Field separator for squeue/sacct output: ASCII "unit separator". Not `|` (constraints such as `zen2|zen3`
# contain it), not `,` (node lists, features), not `;`, `:` or space (names and comments are free text).
# Job names and comments come from sbatch arguments; control characters do not occur in them, and the
# parsers check the field count, so a stray separator raises instead of shifting fields.
SEP = "\x1f"

# End states of a job (squeue %T / sacct State, first word: sacct says "CANCELLED by 0").
FINAL_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
})

# squeue -o fields: key -> format specifier. Without a width, `squeue -o` does not truncate (names of 200
# and comments of 300 characters come back whole).
SQUEUE_FIELDS: Dict[str, str] = {
    "job_id": "%i",
    "state": "%T",
    "reason": "%r",
    "partition": "%P",
    "features": "%f",      # the job's --constraint, e.g. "zen2|zen3"; "" when none
    "name": "%j",
    "comment": "%k",
    "nodelist": "%N",      # "" until the job starts
    "user": "%u",
    "time_limit": "%l",
}

SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Elapsed", "Partition", "NodeList", "Constraints",
                "Submit", "Start", "End", "Timelimit", "Reason")

# Keys of `scontrol -o show job` whose values are free text and may contain spaces and `x=y`.
_FREE_TEXT_KEYS = frozenset({"JobName", "Comment", "AdminComment", "SystemComment", "Command", "WorkDir",
                             "StdErr", "StdIn", "StdOut", "Reason", "Dependency", "MailUser"})
# Every key Slurm 22.05 prints for a batch job (plus a few optional ones); only these end a free-text value.
_SCONTROL_KEYS = """
JobId ArrayJobId ArrayTaskId ArrayTaskThrottle HetJobId HetJobIdSet HetJobOffset JobName UserId GroupId
MCS_label Priority Nice Account QOS JobState Reason Dependency Requeue Restarts BatchFlag Reboot ExitCode
DerivedExitCode RunTime TimeLimit TimeMin SubmitTime EligibleTime AccrueTime StartTime EndTime Deadline
SuspendTime SecsPreSuspend LastSchedEval Scheduler Partition AllocNode:Sid ReqNodeList ExcNodeList NodeList
BatchHost NumNodes NumCPUs NumTasks CPUs/Task ReqB:S:C:T TRES Socks/Node NtasksPerN:B:S:C CoreSpec
MinCPUsNode MinMemoryNode MinMemoryCPU MinTmpDiskNode Features Prefer DelayBoot OverSubscribe Contiguous
Licenses Network Command WorkDir AdminComment SystemComment Comment StdErr StdIn StdOut Power MailUser
MailType CpusPerTres MemPerTres TresPerNode TresPerTask TresPerJob TresBind TresFreq Reservation
NtasksPerTRES KillOInInvalidDependent CPU_Max_Freq CPU_Min_Freq CPU_Gov BurstBuffer BurstBufferState
"""
_KNOWN_KEYS = frozenset(_SCONTROL_KEYS.split())
_KEY = re.compile(r"(?:^|(?<= ))([A-Z][A-Za-z0-9_:/]*)=")


class SlurmError(RuntimeError):
    """A Slurm command failed; `stderr` holds what it said (e.g. "invalid partition specified")."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


def run(args: Sequence[str], env: Optional[Mapping[str, str]] = None, timeout: float = 30.0) -> str:
    """Run a Slurm command; its stdout, or SlurmError."""
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else dict(env), check=False)
    if proc.returncode != 0:
        raise SlurmError(args, proc.returncode, proc.stderr)
    return proc.stdout


# --- is Slurm there? -------------------------------------------------------------------------------------

def slurm_expected() -> bool:
    """True when the test run promised a Slurm cluster (`EESSI_BOT_SLURM=1`, set by scripts/test.sh)."""
    return os.environ.get(SLURM_ENV) == "1"


def slurm_available(timeout: float = 15.0) -> bool:
    """True when `sinfo` gets an answer from slurmctld."""
    if shutil.which("sinfo") is None:
        return False
    try:
        run(["sinfo", "-h", "-o", "%P"], timeout=timeout)
    except (OSError, subprocess.SubprocessError, SlurmError):
        return False
    return True


def require_slurm() -> None:
    """Fail (Slurm promised but absent) or skip (Slurm not promised and absent) the calling test."""
    if slurm_available():
        return
    if slurm_expected():
        pytest.fail(f"{SLURM_ENV}=1 but Slurm does not answer (sinfo failed); "
                    "see .cache/slurm-up.log, or run scripts/slurm-up.sh as root", pytrace=False)
    pytest.skip(SKIP_REASON)


# --- submitting -------------------------------------------------------------------------------------------

def sbatch(*args: str, env: Optional[Mapping[str, str]] = None) -> str:
    """`sbatch --parsable ARGS`; the job id. SlurmError (with sbatch's stderr) when sbatch refuses."""
    out = run(["sbatch", "--parsable", *args], env=env)
    return out.strip().split(";")[0]   # "ID" or "ID;cluster"


def release(job_id: str) -> None:
    run(["scontrol", "release", job_id])


def force_timeout(job_id: str) -> None:
    """Make a RUNNING job end TIMEOUT soon: its time limit drops to 0, so slurmctld's next time-limit check
    (every 30 s) kills it. A real `--time=1` job takes 60-90 s; this takes 0-31 s."""
    run(["scontrol", "update", f"JobId={job_id}", "TimeLimit=0"])


def cancel_all(name: str) -> None:
    """Cancel every job called `name` (what a test left behind)."""
    run(["scancel", "--name", name])


# --- looking at jobs --------------------------------------------------------------------------------------

def _undefined(value: str) -> str:
    return "" if value in ("(null)", "N/A") else value


def squeue_job(job_id: str) -> Optional[Dict[str, str]]:
    """The job as squeue shows it (keys: SQUEUE_FIELDS), or None once slurmctld forgot it (MinJobAge)."""
    fmt = SEP.join(SQUEUE_FIELDS.values())
    try:
        out = run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", fmt])
    except SlurmError as error:
        if "Invalid job id" in error.stderr:
            return None
        raise
    if out.endswith("\n"):
        out = out[:-1]
    if not out:
        return None
    values = out.split(SEP)
    if len(values) != len(SQUEUE_FIELDS):
        raise ValueError(f"squeue gave {len(values)} fields, expected {len(SQUEUE_FIELDS)}: {out!r}")
    return {key: _undefined(value) for key, value in zip(SQUEUE_FIELDS, values)}


def parse_scontrol(line: str) -> Dict[str, str]:
    """Parse one line of `scontrol -o show job` (`Key=value Key=value ...`).

    Values may contain `=` (`TRES=cpu=1,mem=2G`) and, for free-text keys (JobName, Comment, Command,
    WorkDir, StdOut, ...), spaces and `x=y`. A free-text value ends only at a known Slurm key that has not
    appeared yet, so `Comment=a b=c JobId=7` keeps its text; a comment containing e.g. ` StdOut=` can
    still not be told apart (use `squeue_job` for names and comments). Trailing spaces are dropped.
    """
    result: Dict[str, str] = {}
    key: Optional[str] = None
    start = 0
    for match in _KEY.finditer(line):
        candidate = match.group(1)
        if key is not None:
            if candidate in result or candidate == key:
                continue
            if key in _FREE_TEXT_KEYS and candidate not in _KNOWN_KEYS:
                continue
            result[key] = line[start:match.start()].rstrip(" ")
        key, start = candidate, match.end()
    if key is not None:
        result[key] = line[start:].rstrip(" \n")
    return result


def scontrol_job(job_id: str) -> Optional[Dict[str, str]]:
    """`scontrol -o show job ID` as a dict (Slurm's own keys), or None once slurmctld forgot the job."""
    try:
        out = run(["scontrol", "-o", "show", "job", job_id])
    except SlurmError as error:
        if "Invalid job id" in error.stderr:
            return None
        raise
    for line in out.splitlines():
        fields = parse_scontrol(line)
        if fields.get("JobId") == job_id:
            return fields
    return None


def sacct_job(job_id: str, final: bool = True, timeout: float = 30.0) -> Dict[str, str]:
    """The job's allocation row in sacct (keys: SACCT_FIELDS; State is its first word, StateFull the rest).

    With `final` (default), waits until the row is final: an end state, an End time and a Partition. For a
    few seconds around a job's start and end, sacct shows a placeholder row: JobName "allocation", no
    Partition, and a State that may still be PENDING for a job that already ended, or already COMPLETED
    while name and partition are missing (measured: up to 5 s after the end of a job submitted --hold).
    """
    deadline = time.monotonic() + timeout
    row: Optional[Dict[str, str]] = None
    while True:
        out = run(["sacct", "-X", "-n", "-P", f"--delimiter={SEP}", "-j", job_id, "-o", ",".join(SACCT_FIELDS)])
        rows = [line.split(SEP) for line in out.splitlines() if line]
        matching = [values for values in rows if len(values) == len(SACCT_FIELDS) and values[0] == job_id]
        if matching:
            row = dict(zip(SACCT_FIELDS, matching[-1]))   # the newest, should a job id have been reused
            row["StateFull"] = row["State"]
            row["State"] = row["State"].split(" ")[0]
            if not final or (row["State"] in FINAL_STATES and row["End"] not in ("", "Unknown", "None")
                             and row["Partition"] != ""):
                return row
        elif not final:
            raise AssertionError(f"sacct does not know job {job_id}: {out!r}")
        if time.monotonic() > deadline:
            raise AssertionError(f"sacct has no final row for job {job_id} after {timeout} s; last: {row}")
        time.sleep(0.1)


def job_state(job_id: str) -> str:
    """The job's state: from squeue while slurmctld knows the job, then from sacct."""
    job = squeue_job(job_id)
    if job is not None:
        return job["state"]
    return sacct_job(job_id, final=False)["State"]


def wait_state(job_id: str, states: Union[str, Iterable[str]], timeout: float = 30.0,
               interval: float = 0.05) -> str:
    """Poll until the job is in one of `states`; that state. AssertionError on timeout, or at once when
    the job reaches an end state that is not wanted (e.g. FAILED while waiting for RUNNING)."""
    wanted = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    while True:
        state = job_state(job_id)
        if state in wanted:
            return state
        if state in FINAL_STATES or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {state}, waited {timeout} s for {sorted(wanted)}: "
                                 f"{squeue_job(job_id)}")
        time.sleep(interval)


def read_env0(path: Path) -> Dict[str, str]:
    """Parse the output of `env -0` (NUL-separated, so values may contain newlines)."""
    result: Dict[str, str] = {}
    for item in path.read_bytes().decode("utf-8", "replace").split("\0"):
        if "=" in item:
            key, _, value = item.partition("=")
            result[key] = value
    return result


# --- fixtures ---------------------------------------------------------------------------------------------

class SlurmSession:
    """One test's view of the cluster: a job name of its own (cleaned up afterwards) and a work dir."""

    def __init__(self, workdir: Path) -> None:
        self.name = f"pytest-{uuid.uuid4().hex[:12]}"
        self.workdir = workdir

    def submit(self, *args: str, env: Optional[Mapping[str, str]] = None) -> str:
        """sbatch with this session's job name, output to WORKDIR/slurm-%j.out and work dir WORKDIR."""
        return sbatch(f"--job-name={self.name}", f"--chdir={self.workdir}",
                      f"--output={self.workdir}/slurm-%j.out", *args, env=env)

    def output(self, job_id: str) -> str:
        return (self.workdir / f"slurm-{job_id}.out").read_text()

    def jobs(self) -> List[str]:
        out = run(["squeue", "-h", "--name", self.name, "-o", "%i"])
        return out.split()


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Checked once per session: Slurm answers, or the test fails/skips (see `require_slurm`)."""
    require_slurm()


@pytest.fixture
def slurm(slurm_cluster: None, tmp_path: Path) -> Iterator[SlurmSession]:
    """A SlurmSession; jobs named after it are cancelled when the test ends."""
    session = SlurmSession(tmp_path)
    yield session
    cancel_all(session.name)
