"""SlurmScheduler against the real Slurm of scripts/slurm-up.sh: poll, end_states, release and cancel through
a job's whole life, one squeue per poll, templated scontrol commands; and its answers to broken commands."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set

import pytest

from eessi_bot.adapters.slurm import SEP, SlurmScheduler
from eessi_bot.ports.scheduler import JobStatus, SchedulerUnavailable, Submission, Tracked
from tests.slurm import SlurmSession, cancel_all, force_timeout, sbatch
from tests.waiting import wait_for

SECRET = "ghp_do-not-leak-this"
CLUSTER = "localcluster"  # ClusterName of scripts/slurm-up.sh


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@dataclass
class Bot:
    """A SlurmScheduler whose squeue is a spy: every run appends its argv to `squeue_log` and its
    environment to `env_log` (then execs the real squeue)."""

    scheduler: SlurmScheduler
    session: SlurmSession
    root: Path
    squeue_log: Path
    env_log: Path
    polls: int = 0
    jobs: int = 0

    def submit(self, body: str, hold: bool = True, begin_delay: Optional[int] = None) -> Tracked:
        self.jobs += 1
        job_dir = self.root / f"job{self.jobs}"
        job_dir.mkdir()
        script = write_executable(self.root / f"script{self.jobs}.sh", f"#!/bin/bash\n{body}")
        submission = Submission(job_dir=job_dir, script=script, name=self.session.name,
                                marker=f"test:{uuid.uuid4().hex[:8]}", options=("-p", "debug"), hold=hold,
                                begin_delay=begin_delay, environment={"PATH": "/usr/local/bin:/usr/bin:/bin"})
        return Tracked(self.scheduler.submit(submission), job_dir)

    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        self.polls += 1
        return self.scheduler.poll(jobs)

    def poll_one(self, job: Tracked) -> Optional[JobStatus]:
        return self.poll([job]).get(job.job_id)

    def wait_state(self, job: Tracked, states: Set[str], timeout: float = 30.0) -> JobStatus:
        def reached() -> Optional[JobStatus]:
            status = self.poll_one(job)
            return status if status is not None and status.state in states else None

        status = wait_for(reached, timeout, 0.2)
        assert status is not None
        return status

    def wait_end(self, job: Tracked, timeout: float = 30.0) -> JobStatus:
        """end_states until sacct has the job's final row; before that the job must be absent (never a
        placeholder or a PENDING/RUNNING row taken for an end)."""
        def final() -> Optional[JobStatus]:
            answer = self.scheduler.end_states([job])
            assert set(answer) <= {job.job_id}
            return answer.get(job.job_id)

        status = wait_for(final, timeout, 0.2)
        assert status is not None
        return status

    def squeue_runs(self) -> List[str]:
        return self.squeue_log.read_text().splitlines() if self.squeue_log.exists() else []


def spy(path: Path, log: Path, real: str, env_log: Optional[Path] = None) -> Path:
    """A command that logs its arguments (one line per run) and execs `real` with them."""
    env = f'env >> "{env_log}"\n' if env_log else ""
    return write_executable(path, f'#!/bin/bash\nprintf "%s\\n" "$*" >> "{log}"\n{env}exec {real} "$@"\n')


@pytest.fixture
def bot(slurm: SlurmSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("GITHUB_APP_SECRET_TOKEN", SECRET)  # must never reach a Slurm command
    squeue_log, env_log = tmp_path / "squeue.log", tmp_path / "squeue.env"
    squeue = spy(tmp_path / "squeue-spy", squeue_log, "squeue", env_log)
    scheduler = SlurmScheduler(("sbatch",), (str(squeue),), ("scontrol",), slurm.name)
    return Bot(scheduler, slurm, tmp_path, squeue_log, env_log)


HELD = JobStatus("PENDING", reason="JobHeldUser", held=True, cluster=CLUSTER, partition="debug")


# ---------------------------------------------------------------- the life of a job

def test_held_release_running_completed(bot: Bot) -> None:
    job = bot.submit("while [ ! -e go ]; do sleep 0.1; done\n")
    sibling = bot.submit("true\n")  # same name, but not asked for
    other_name = f"other-{uuid.uuid4().hex[:8]}"
    other = sbatch("--hold", f"--job-name={other_name}", f"--chdir={bot.root}", "--output=/dev/null",
                   "--wrap", "true")
    try:
        assert bot.poll([job]) == {job.job_id: HELD}
        # Only jobs of this instance's name are read: another name's job is not returned even when asked.
        assert bot.poll([job, Tracked(other, bot.root)]) == {job.job_id: HELD}
        assert bot.poll([]) == {}  # nothing asked, nothing run

        bot.scheduler.release(job)
        running = bot.wait_state(job, {"RUNNING"})
        assert running == JobStatus("RUNNING", reason="", cluster=CLUSTER, partition="debug")
        assert not running.held and not running.terminal
        assert bot.scheduler.end_states([job]) == {}  # sacct: not over yet, so absent

        (job.job_dir / "go").touch()
        done = bot.wait_state(job, {"COMPLETED"})
        # squeue shows the end for MinJobAge seconds, without an exit code: sacct has that.
        assert done == JobStatus("COMPLETED", cluster=CLUSTER, partition="debug")
        assert done.terminal and done.exit_code is None
        assert bot.wait_end(job) == JobStatus("COMPLETED", exit_code="0:0", cluster=CLUSTER, partition="debug")

        # Releasing or cancelling a finished job is not an error.
        bot.scheduler.release(job)
        bot.scheduler.cancel(job)
        assert bot.poll_one(job) == done
    finally:
        cancel_all(other_name)
    assert bot.poll_one(sibling) == HELD

    # ONE squeue per poll (the empty poll ran none), for all jobs, with only Slurm's settings in its environment.
    runs = bot.squeue_runs()
    assert len(runs) == bot.polls - 1
    assert all(f"--name={bot.session.name}" in run and "--states=all" in run for run in runs)
    env = bot.env_log.read_text()
    assert SECRET not in env
    keys = {line.split("=", 1)[0] for line in env.splitlines() if "=" in line}
    assert {k for k in keys if not k.startswith("SLURM_")} <= {"PATH", "PWD", "SHLVL", "_"}, keys


@dataclass(frozen=True)
class EndCase:
    id: str
    body: str
    release: bool
    action: Optional[str]  # "cancel" or "timeout" once RUNNING (or, for a held job, at once)
    state: str
    exit_code: str


END_CASES = [
    EndCase("exit-3", "exit 3\n", True, None, "FAILED", "3:0"),
    EndCase("cancel-held", "true\n", False, "cancel", "CANCELLED", "0:0"),
    EndCase("cancel-running", "sleep 300\n", True, "cancel", "CANCELLED", "0:0"),
    # force_timeout: the limit drops to 0 and slurmctld's next check (every 30 s) ends the job.
    EndCase("timeout", "sleep 300\n", True, "timeout", "TIMEOUT", "0:0"),
    # OUT_OF_MEMORY needs memory enforcement (cgroups), which this cluster does not have: not faked here.
]


@pytest.mark.parametrize("case", END_CASES, ids=lambda c: c.id)
def test_end_states(bot: Bot, case: EndCase) -> None:
    job = bot.submit(case.body)
    if case.release:
        bot.scheduler.release(job)
    if case.action is not None and case.release:
        bot.wait_state(job, {"RUNNING"})
    if case.action == "cancel":
        bot.scheduler.cancel(job)
    elif case.action == "timeout":
        force_timeout(job.job_id)
    ended = bot.wait_state(job, {case.state}, timeout=45.0 if case.action == "timeout" else 30.0)
    assert ended.terminal and ended.exit_code is None and not ended.held
    end = bot.wait_end(job)
    assert end == JobStatus(case.state, exit_code=case.exit_code, cluster=CLUSTER, partition="debug")
    # Asking again (several jobs, one unknown) gives the same; the unknown one is absent.
    assert bot.scheduler.end_states([job, Tracked("99999999", job.job_dir)]) == {job.job_id: end}
    bot.scheduler.cancel(job)  # cancelling an ended job is fine


def test_delayed_begin_is_pending_with_an_eligible_time_not_held(bot: Bot) -> None:
    job = bot.submit("true\n", hold=False, begin_delay=600)
    status = bot.poll_one(job)
    assert status is not None
    assert (status.state, status.reason, status.held) == ("PENDING", "BeginTime", False)
    assert status.eligible_time is not None
    eligible = datetime.fromisoformat(status.eligible_time)
    assert 500 < (eligible - datetime.now()).total_seconds() < 700
    bot.scheduler.cancel(job)
    assert bot.wait_state(job, {"CANCELLED"}).terminal


def test_unknown_jobs(bot: Bot) -> None:
    unknown = Tracked("99999999", bot.root)
    assert bot.poll([unknown]) == {}
    assert bot.scheduler.end_states([unknown, Tracked("not-a-slurm-id", bot.root)]) == {}
    bot.scheduler.release(unknown)  # "Invalid job id specified": nothing to release
    bot.scheduler.cancel(unknown)


# ---------------------------------------------------------------- multi-cluster templates

def test_templated_scontrol_and_scancel(bot: Bot, tmp_path: Path) -> None:
    scontrol_log, scancel_log = tmp_path / "scontrol.log", tmp_path / "scancel.log"
    # The wrapper logs all its arguments, then runs what follows "--": `scontrol -M localcluster ...`.
    record = write_executable(tmp_path / "record", '#!/bin/bash\nlog=$1; shift\nprintf "%s\\n" "$*" >> "$log"\n'
                              'while [ "$1" != "--" ]; do shift; done; shift\nexec "$@"\n')
    fields = ("%(jobid)s", "%(cluster)s", "%(partition)s", "%(state)s", "%(reason)s")
    scheduler = SlurmScheduler(("sbatch",), bot.scheduler.poll_command,
                               (str(record), str(scontrol_log), *fields, "--", "scontrol", "-M", "%(cluster)s"),
                               bot.session.name,
                               scancel_command=(str(record), str(scancel_log), "%(jobid)s", "--", "scancel", "-M",
                                                "%(cluster)s"))
    first, second = bot.submit("sleep 300\n"), bot.submit("sleep 300\n")
    assert scheduler.poll([first, second])[first.job_id].held

    scheduler.release(first)
    assert scontrol_log.read_text().splitlines() == [
        f"{first.job_id} {CLUSTER} debug PENDING JobHeldUser -- scontrol -M {CLUSTER} release {first.job_id}"]
    assert bot.wait_state(first, {"RUNNING"})

    # Just after a restart no poll has shown the job yet: one squeue for it fills the template.
    runs = len(bot.squeue_runs())
    fresh = SlurmScheduler(("sbatch",), bot.scheduler.poll_command, scheduler.scontrol_command, bot.session.name)
    fresh.release(second)
    assert len(bot.squeue_runs()) == runs + 1
    assert scontrol_log.read_text().splitlines()[-1].startswith(f"{second.job_id} {CLUSTER} debug PENDING JobHeldUser")
    assert bot.wait_state(second, {"RUNNING"})

    scheduler.poll([first, second])
    scheduler.cancel(first)
    assert scancel_log.read_text().splitlines() == [f"{first.job_id} -- scancel -M {CLUSTER} {first.job_id}"]
    assert bot.wait_state(first, {"CANCELLED"})

    # A job squeue does not show (any more) cannot be templated, and needs no release or cancel.
    lines = len(scontrol_log.read_text().splitlines())
    scheduler.release(Tracked("99999999", tmp_path))
    scheduler.cancel(Tracked("99999999", tmp_path))
    assert len(scontrol_log.read_text().splitlines()) == lines
    assert len(scancel_log.read_text().splitlines()) == 1


@pytest.mark.parametrize("command", [("scontrol", "-M", "%(clusters)s"), ("scontrol", "%(jobid)s 100%")],
                         ids=["unknown-field", "lone-percent"])
def test_bad_templates_are_refused_at_once(command: Sequence[str]) -> None:
    with pytest.raises(ValueError, match="scontrol"):
        SlurmScheduler(("sbatch",), ("squeue",), command, "bot")


# ---------------------------------------------------------------- broken or odd answers (fake commands)

def fake(tmp_path: Path, name: str, stdout: str = "", stderr: str = "", code: int = 0, sleep: float = 0) -> str:
    """A command that ignores its arguments and answers with the given output."""
    (tmp_path / f"{name}.out").write_text(stdout)
    (tmp_path / f"{name}.err").write_text(stderr)
    # A hanging command leaves a child behind: the scheduler must kill it with the command.
    hang = f"sleep {sleep} & echo $! > {tmp_path}/{name}.child\nwait\n" if sleep else ""
    return str(write_executable(tmp_path / name, f'#!/bin/bash\n{hang}cat "{tmp_path}/{name}.out"\n'
                                f'cat "{tmp_path}/{name}.err" >&2\nexit {code}\n'))


def ended(pid: int) -> bool:
    """The process is gone, or a zombie nobody reaped yet."""
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def assert_no_child_left(child_file: Path) -> None:
    """A hanging command's child does not outlive the timeout."""
    if child_file.exists():
        pid = int(child_file.read_text())
        wait_for(lambda: ended(pid), 2)


def squeue_line(*values: str) -> str:
    return "".join(f"{value}{SEP}" for value in values) + "\n"


JOBS = [Tracked("11", Path("/j/11")), Tracked("12", Path("/j/12"))]


@pytest.mark.parametrize(("answer", "error"), [
    ({"code": 1, "stderr": "slurm_load_jobs error: Unable to contact slurm controller"}, "Unable to contact"),
    ({"stdout": "nonsense\n"}, "cannot read"),
    ({"stdout": squeue_line("11", "RUNNING", "None", "debug")}, "cannot read"),  # fields missing
    ({"sleep": 5}, "did not answer"),
], ids=["exit-1", "garbage", "short-line", "hangs"])
def test_poll_failures_raise(tmp_path: Path, answer: dict, error: str) -> None:
    scheduler = SlurmScheduler(("sbatch",), (fake(tmp_path, "squeue", **answer),), job_name="bot", timeout=1)
    with pytest.raises(SchedulerUnavailable, match=error):
        scheduler.poll(JOBS)
    assert_no_child_left(tmp_path / "squeue.child")


def test_poll_command_that_cannot_run_raises(tmp_path: Path) -> None:
    for command in (("false",), (str(tmp_path / "missing"),)):
        with pytest.raises(SchedulerUnavailable):
            SlurmScheduler(("sbatch",), command, job_name="bot").poll(JOBS)


def test_poll_empty_answer_is_valid_and_foreign_ids_are_dropped(tmp_path: Path) -> None:
    empty = SlurmScheduler(("sbatch",), (fake(tmp_path, "empty"),), job_name="bot")
    assert empty.poll(JOBS) == {}  # jobs gone: the caller asks end_states
    out = (squeue_line("11", "PENDING", "JobHeldAdmin", "zen2,zen3", "c1", "N/A")
           + squeue_line("12", "FAILED", "NonZeroExitCode", "debug", "c1", "2030-01-01T00:00:00")
           + squeue_line("13", "RUNNING", "None", "debug", "c1", "2030-01-01T00:00:00"))
    scheduler = SlurmScheduler(("sbatch",), (fake(tmp_path, "squeue", stdout="CLUSTER: c1\n" + out),),
                               job_name="bot")
    assert scheduler.poll(JOBS) == {
        "11": JobStatus("PENDING", reason="JobHeldAdmin", held=False, cluster="c1", partition="zen2,zen3"),
        "12": JobStatus("FAILED", reason="NonZeroExitCode", cluster="c1", partition="debug"),
    }


SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Partition", "End", "Cluster")


def sacct_line(**values: str) -> str:
    row = {"JobName": "bot", "ExitCode": "0:0", "Partition": "debug", "End": "2030-01-01T00:00:00",
           "Cluster": CLUSTER, **values}
    return SEP.join(row[key] for key in SACCT_FIELDS) + "\n"


def test_end_states_reads_only_final_rows(tmp_path: Path) -> None:
    out = "".join([
        sacct_line(JobID="11", State="CANCELLED by 0", ExitCode="0:15"),
        # Placeholder rows of the first seconds after an end: not final yet, so absent.
        sacct_line(JobID="12", JobName="allocation", State="COMPLETED", Partition=""),
        sacct_line(JobID="13", JobName="allocation", State="PENDING", Partition="", End="Unknown"),
        sacct_line(JobID="14", State="RUNNING", End="Unknown"),
        # A reused id (a purged controller): the newest row counts.
        sacct_line(JobID="15", State="COMPLETED"), sacct_line(JobID="15", State="OUT_OF_MEMORY", ExitCode="0:125"),
        sacct_line(JobID="16", State="FAILED", ExitCode="3:0"),  # not asked for
    ])
    scheduler = SlurmScheduler(("sbatch",), ("squeue",), job_name="bot",
                               sacct_command=(fake(tmp_path, "sacct", stdout=out),))
    jobs = [Tracked(i, tmp_path) for i in ("11", "12", "13", "14", "15", "17")]
    assert scheduler.end_states(jobs) == {
        "11": JobStatus("CANCELLED", exit_code="0:15", cluster=CLUSTER, partition="debug"),
        "15": JobStatus("OUT_OF_MEMORY", exit_code="0:125", cluster=CLUSTER, partition="debug"),
    }
    assert scheduler.end_states([]) == {}


@pytest.mark.parametrize(("answer", "raises"), [
    ({"code": 1, "stderr": "sacct: error: Problem talking to the database: Connection refused"}, True),
    ({"stdout": "11|COMPLETED\n"}, True),
    ({"sleep": 5}, True),
    ({"code": 1, "stderr": "Slurm accounting storage is disabled"}, False),
], ids=["database-down", "garbage", "hangs", "accounting-disabled"])
def test_end_states_failures(tmp_path: Path, answer: dict, raises: bool) -> None:
    scheduler = SlurmScheduler(("sbatch",), ("squeue",), job_name="bot", timeout=1,
                               sacct_command=(fake(tmp_path, "sacct", **answer),))
    if raises:
        with pytest.raises(SchedulerUnavailable):
            scheduler.end_states(JOBS)
        assert_no_child_left(tmp_path / "sacct.child")
    else:
        assert scheduler.end_states(JOBS) == {}  # unknown: the manager falls back to the end marker file


def test_accounting_disabled_for_real(slurm: SlurmSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real sacct under a slurm.conf without accounting (SLURM_CONF reaches sacct like every SLURM_*)."""
    conf = tmp_path / "slurm.conf"
    text = Path("/etc/slurm/slurm.conf").read_text()
    conf.write_text("\n".join("AccountingStorageType=accounting_storage/none"
                              if line.startswith("AccountingStorageType=") else line for line in text.splitlines()))
    monkeypatch.setenv("SLURM_CONF", str(conf))
    proc = subprocess.run(["sacct", "-X", "-n", "-j", "1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "accounting storage is disabled" in proc.stderr
    assert SlurmScheduler(("sbatch",), ("squeue",), job_name="bot").end_states(JOBS) == {}


def test_release_failure_raises(tmp_path: Path) -> None:
    scontrol = fake(tmp_path, "scontrol", code=1, stderr="Access/permission denied")
    scancel = fake(tmp_path, "scancel", code=1, stderr="Zero Bytes were transmitted")
    scheduler = SlurmScheduler(("sbatch",), ("squeue",), (scontrol,), "bot", scancel_command=(scancel,))
    with pytest.raises(SchedulerUnavailable, match="permission denied"):
        scheduler.release(JOBS[0])
    with pytest.raises(SchedulerUnavailable, match="Zero Bytes"):
        scheduler.cancel(JOBS[0])
