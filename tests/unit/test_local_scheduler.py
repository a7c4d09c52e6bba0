"""The local backend followed through its files: LocalScheduler with the real wrapper (`setsid --fork`)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

from eessi_bot.adapters.local_jobs import (
    CANCEL_FILE,
    EXIT_FILE,
    ID_FILE,
    LOST_REASON,
    NEVER_STARTED_REASON,
    PGID_FILE,
    PID_FILE,
    RELEASE_FILE,
    STARTUP_GRACE,
    LocalScheduler,
)
from eessi_bot.ports.scheduler import JobStatus, Submission, Tracked
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("setsid") is None or not Path("/proc/self/stat").exists(),
    reason="needs bash, setsid and /proc",
)

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"}


def stat_fields(pid: int) -> Optional[List[str]]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def live_members(pgid: int) -> List[int]:
    """Non-zombie processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def process_alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)
    return path


@dataclass
class Local:
    scheduler: LocalScheduler
    root: Path
    jobs: List[Tracked]

    def submit(self, body: str, released: bool = False) -> Tracked:
        """Submit a job whose script is `body`, as the bot does (a held job, a minimal environment)."""
        index = len(self.jobs)
        job_dir = self.root / f"job{index}"
        job_dir.mkdir()
        script = write_script(self.root / f"script{index}.sh", body)
        if released:
            (job_dir / RELEASE_FILE).touch()
        submission = Submission(job_dir=job_dir, script=script, name="bot", marker=f"m{index}", options=(),
                                hold=True, begin_delay=None, environment=ENV)
        job = Tracked(self.scheduler.submit(submission), job_dir)
        self.jobs.append(job)
        return job

    def poll(self, job: Tracked) -> Optional[JobStatus]:
        return self.scheduler.poll([job]).get(job.job_id)

    def wait_state(self, job: Tracked, states: Set[str], timeout: float = 10.0) -> JobStatus:
        def reached() -> Optional[JobStatus]:
            status = self.poll(job)
            return status if status is not None and status.state in states else None

        status = wait_for(reached, timeout)
        assert status is not None
        return status

    def wrapper_pid(self, job: Tracked) -> int:
        wait_for((job.job_dir / PID_FILE).exists, 5)
        return int((job.job_dir / PID_FILE).read_text().split()[0])


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    counter = itertools.count(1)
    scheduler = LocalScheduler(lambda: f"L{next(counter)}", kill_wait=2.0)
    session = Local(scheduler, tmp_path, [])
    yield session
    # Never leave a process behind: cancel every job, wait for its end, check that nothing of it lives on.
    leftovers: List[Tuple[str, List[int]]] = []

    for job in session.jobs:
        scheduler.cancel(job)
    with contextlib.suppress(AssertionError):  # what did not end is killed and reported below
        wait_for(lambda: len(scheduler.end_states(session.jobs)) == len(session.jobs), 10)
    for job in session.jobs:
        pids = []
        for name in (PID_FILE, PGID_FILE):
            if (job.job_dir / name).exists():
                pid = int((job.job_dir / name).read_text().split()[0])
                pids += [pid] if name == PID_FILE and process_alive(pid) else []
                pids += live_members(pid) if name == PGID_FILE else []
        if pids:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            leftovers.append((job.job_id, pids))
    assert leftovers == [], "processes outlived their tests"


# ---------------------------------------------------------------- life cycle

def test_held_release_running_completed(local: Local) -> None:
    job = local.submit('while [ ! -e go ]; do sleep 0.05; done\necho done\n')
    # Held from the submission on (before and after the wrapper wrote its pid file).
    status = local.poll(job)
    assert status == JobStatus("PENDING", reason="JobHeldUser", held=True)
    pid = local.wrapper_pid(job)
    time.sleep(0.3)
    assert local.poll(job) == JobStatus("PENDING", reason="JobHeldUser", held=True)
    assert local.scheduler.end_states([job]) == {}
    assert not (job.job_dir / f"slurm-{job.job_id}.out").exists()

    local.scheduler.release(job)
    local.scheduler.release(job)  # idempotent
    assert local.wait_state(job, {"RUNNING"}) == JobStatus("RUNNING")
    assert local.scheduler.end_states([job]) == {}

    (job.job_dir / "go").touch()
    ended = local.wait_state(job, {"COMPLETED"})
    assert ended == JobStatus("COMPLETED", exit_code="0:0")
    assert ended.terminal
    assert local.scheduler.end_states([job]) == {job.job_id: ended}
    wait_for(lambda: not process_alive(pid), 5)
    assert "done" in (job.job_dir / f"slurm-{job.job_id}.out").read_text()
    local.scheduler.release(job)  # a finished job needs no release: no error
    local.scheduler.cancel(job)   # nor a cancel
    assert local.poll(job) == ended


@dataclass(frozen=True)
class EndCase:
    id: str
    body: str
    cancel_at: Optional[str]  # None, "held" (before the release) or "running"
    state: str
    exit_code: str


END_CASES = [
    EndCase("exit-3-failed", "touch ran\nexit 3\n", None, "FAILED", "3:0"),
    EndCase("cancel-before-release", "touch ran\n", "held", "CANCELLED", "130:0"),
    EndCase("cancel-while-running", "touch ran\nsleep 60\n", "running", "CANCELLED", "143:0"),
]


@pytest.mark.parametrize("case", END_CASES, ids=lambda c: c.id)
def test_end_states(local: Local, case: EndCase) -> None:
    job = local.submit(case.body)
    local.wrapper_pid(job)
    if case.cancel_at == "held":
        local.scheduler.cancel(job)
    else:
        local.scheduler.release(job)
    if case.cancel_at == "running":
        local.wait_state(job, {"RUNNING"})
        wait_for((job.job_dir / "ran").exists, 5)
        local.scheduler.cancel(job)
        # Being stopped (SIGTERM, then SIGKILL after the wrapper's KILL_WAIT): still in a running state.
        status = local.poll(job)
        assert status is not None and status.state in ("COMPLETING", "CANCELLED")
    ended = local.wait_state(job, {case.state})
    assert ended == JobStatus(case.state, exit_code=case.exit_code)
    assert local.scheduler.end_states([job]) == {job.job_id: ended}
    assert (job.job_dir / "ran").exists() == (case.cancel_at != "held")


def test_poll_answers_for_many_jobs_at_once(local: Local) -> None:
    held = local.submit("exit 0\n")
    done = local.submit("exit 0\n", released=True)
    local.wrapper_pid(held)
    wait_for((done.job_dir / EXIT_FILE).exists)
    done_wrapper = local.wrapper_pid(done)
    wait_for(lambda: not process_alive(done_wrapper), 5)
    gone = Tracked("L999", local.root / "nowhere")
    statuses = local.scheduler.poll([held, done, gone])
    assert statuses == {held.job_id: JobStatus("PENDING", reason="JobHeldUser", held=True),
                        done.job_id: JobStatus("COMPLETED", exit_code="0:0")}
    assert local.scheduler.end_states([held, done, gone]) == {done.job_id: statuses[done.job_id]}


RACE_JOBS = 300


def test_no_job_is_lost_while_its_wrapper_starts(local: Local) -> None:
    """A poll that looks at a job just as its wrapper writes the pid file must not take it for lost.

    Jobs are submitted while another thread follows them as the job manager does (poll, release each held
    job once, stop following a job at its first terminal state); each job must end COMPLETED after it ran.
    """
    stop = threading.Event()
    released: Set[str] = set()
    ends: Dict[str, JobStatus] = {}

    def manager() -> None:
        while not stop.is_set():
            following = [job for job in list(local.jobs) if job.job_id not in ends]
            for job in following:
                status = local.poll(job)
                if status is not None and status.terminal:
                    ends[job.job_id] = status
                elif status is not None and status.held and job.job_id not in released:
                    local.scheduler.release(job)
                    released.add(job.job_id)

    with ThreadPoolExecutor(1) as pool:
        following = pool.submit(manager)
        try:
            for _ in range(RACE_JOBS):
                local.submit("touch ran\n")
            with contextlib.suppress(AssertionError):  # the assertions below say what went wrong
                wait_for(lambda: len(ends) == RACE_JOBS or following.done(), 30)
        finally:
            stop.set()
        following.result()
    wrong = {job_id: status for job_id, status in ends.items() if status != JobStatus("COMPLETED", exit_code="0:0")}
    assert wrong == {}
    assert len(ends) == len(released) == RACE_JOBS
    assert all((job.job_dir / "ran").exists() for job in local.jobs)


# ---------------------------------------------------------------- a lost wrapper

def test_lost_wrapper_is_node_fail_and_cancel_ends_its_processes(local: Local) -> None:
    # A background child and a foreground one, both in the job's process group.
    job = local.submit("sleep 60 &\necho $$ > job.pid\nsleep 60\n", released=True)
    local.wait_state(job, {"RUNNING"})
    job_pid_file = job.job_dir / "job.pid"
    wait_for(lambda: job_pid_file.exists() and job_pid_file.read_text().strip() != "")
    pgid = int(job_pid_file.read_text())
    wait_for(lambda: len(live_members(pgid)) == 3)  # bash + two sleeps
    assert (job.job_dir / PGID_FILE).read_text().split()[0] == str(pgid)

    wrapper = local.wrapper_pid(job)
    os.kill(wrapper, signal.SIGKILL)
    wait_for(lambda: not process_alive(wrapper))

    lost = local.poll(job)
    assert lost == JobStatus("NODE_FAIL", reason=LOST_REASON)
    assert lost.terminal and lost.exit_code is None
    assert local.scheduler.end_states([job]) == {job.job_id: lost}
    assert len(live_members(pgid)) == 3  # nobody stops them: the wrapper is gone
    assert not (job.job_dir / EXIT_FILE).exists()

    began = time.monotonic()
    local.scheduler.cancel(job)
    assert live_members(pgid) == []
    assert time.monotonic() - began < 2  # SIGTERM was enough
    assert (job.job_dir / CANCEL_FILE).exists()
    assert local.poll(job) == lost  # still the wrapper's end: nobody wrote an exit file
    local.scheduler.cancel(job)  # again: nothing left to signal


def test_job_processes_that_ignore_sigterm_get_sigkill(local: Local) -> None:
    job = local.submit("trap '' TERM\necho $$ > job.pid\nwhile :; do sleep 0.1; done\n", released=True)
    local.wait_state(job, {"RUNNING"})
    job_pid_file = job.job_dir / "job.pid"
    wait_for(lambda: job_pid_file.exists() and job_pid_file.read_text().strip() != "")
    pgid = int(job_pid_file.read_text())
    os.kill(local.wrapper_pid(job), signal.SIGKILL)
    assert local.wait_state(job, {"NODE_FAIL"}).reason == LOST_REASON
    began = time.monotonic()
    local.scheduler.cancel(job)
    assert 1.5 < time.monotonic() - began < 5  # kill_wait (2 s), then SIGKILL
    wait_for(lambda: live_members(pgid) == [], 5)


# ---------------------------------------------------------------- files alone (no wrapper started)

def fake_job(root: Path, job_id: str = "L1", **files: str) -> Tracked:
    """A job dir with the given files (name without the `_bot_local.` prefix -> content)."""
    job_dir = root / "job"
    job_dir.mkdir()
    (job_dir / ID_FILE).write_text(f"{job_id} marker\n")
    for name, content in files.items():
        (job_dir / f"_bot_local.{name}").write_text(content)
    return Tracked(job_id, job_dir)


def own_start_time() -> str:
    fields = stat_fields(os.getpid())
    assert fields is not None
    return fields[19]


@dataclass(frozen=True)
class FileCase:
    id: str
    files: Tuple[Tuple[str, str], ...]
    expected: Optional[JobStatus]
    tracked_id: str = "L1"
    old: bool = False  # the id file is older than STARTUP_GRACE


FILE_CASES = [
    FileCase("just-submitted-no-pid-file", (), JobStatus("PENDING", reason="JobHeldUser", held=True)),
    FileCase("just-submitted-and-released", (("release", ""),), JobStatus("PENDING", reason="JobHeldUser",
                                                                          held=True)),
    FileCase("wrapper-never-started", (), JobStatus("NODE_FAIL", reason=NEVER_STARTED_REASON), old=True),
    FileCase("exit-file-wrapper-gone", (("pid", "999999999 1\n"), ("exit", "0 COMPLETED\n")),
             JobStatus("COMPLETED", exit_code="0:0")),
    FileCase("timeout", (("pid", "999999999 1\n"), ("exit", "143 TIMEOUT\n")),
             JobStatus("TIMEOUT", exit_code="143:0")),
    FileCase("unreadable-exit-file", (("pid", "999999999 1\n"), ("exit", "zero DONE\n")),
             JobStatus("FAILED", reason="unreadable _bot_local.exit")),
    FileCase("pid-gone-no-exit-file", (("pid", "999999999 1\n"),), JobStatus("NODE_FAIL", reason=LOST_REASON)),
    # Until the pid file holds the wrapper's whole line, the wrapper has not started.
    FileCase("empty-pid-file", (("pid", ""),), JobStatus("PENDING", reason="JobHeldUser", held=True)),
    FileCase("pid-file-cut-short", (("pid", "999999999 1"),), JobStatus("PENDING", reason="JobHeldUser", held=True)),
    FileCase("garbage-pid-file", (("pid", "nonsense\n"),), JobStatus("PENDING", reason="JobHeldUser", held=True)),
    FileCase("garbage-pid-file-long-after", (("pid", "nonsense\n"),),
             JobStatus("NODE_FAIL", reason=NEVER_STARTED_REASON), old=True),
    FileCase("exit-file-but-no-pid-file", (("exit", "0 COMPLETED\n"),),
             JobStatus("PENDING", reason="JobHeldUser", held=True)),
    # A pid reused by another process (here: the test itself, with another start time) is not the wrapper.
    FileCase("pid-reused", (("pid", f"{os.getpid()} 1\n"),), JobStatus("NODE_FAIL", reason=LOST_REASON)),
    # The wrapper (here: the test process, with its real start time) is alive: the exit file that a job
    # script could write itself does not count until the wrapper is gone.
    FileCase("exit-file-while-wrapper-alive",
             (("pid", f"{os.getpid()} {own_start_time()}\n"), ("release", ""), ("exit", "0 COMPLETED\n")),
             JobStatus("RUNNING")),
    FileCase("alive-held", (("pid", f"{os.getpid()} {own_start_time()}\n"),),
             JobStatus("PENDING", reason="JobHeldUser", held=True)),
    FileCase("alive-being-cancelled", (("pid", f"{os.getpid()} {own_start_time()}\n"), ("release", ""),
                                       ("cancel", "")), JobStatus("COMPLETING", reason="cancel requested")),
    FileCase("dir-of-another-job", (("exit", "0 COMPLETED\n"),), None, tracked_id="L2"),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_poll_from_files(tmp_path: Path, case: FileCase) -> None:
    job = fake_job(tmp_path, **dict(case.files))
    if case.old:
        old = time.time() - STARTUP_GRACE - 5
        os.utime(job.job_dir / ID_FILE, (old, old))
    job = Tracked(case.tracked_id, job.job_dir)
    scheduler = LocalScheduler(lambda: "unused")
    assert scheduler.poll([job]) == ({} if case.expected is None else {job.job_id: case.expected})
    ended = {} if case.expected is None or not case.expected.terminal else {job.job_id: case.expected}
    assert scheduler.end_states([job]) == ended


def test_missing_job_dir_is_absent_and_release_cancel_do_not_fail(tmp_path: Path) -> None:
    scheduler = LocalScheduler(lambda: "unused")
    job = Tracked("L7", tmp_path / "gone")
    assert scheduler.poll([job]) == {}
    assert scheduler.end_states([job]) == {}
    scheduler.release(job)
    scheduler.cancel(job)
    assert not job.job_dir.exists()


def test_release_and_cancel_create_their_files(tmp_path: Path) -> None:
    job = fake_job(tmp_path)  # just submitted: the wrapper has not written its pid file yet
    scheduler = LocalScheduler(lambda: "unused")
    scheduler.release(job)
    scheduler.release(job)
    assert (job.job_dir / RELEASE_FILE).exists()
    scheduler.cancel(job)
    assert (job.job_dir / CANCEL_FILE).exists()
    assert not list(job.job_dir.glob("*.tmp*"))
