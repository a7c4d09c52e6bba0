"""The job manager (`JobManager.cycle()`, driven through `Runtime.manage()`) on a real Slurm.

The EESSI bot's job manager (reference §6, §12.3) knew a job only from `squeue`: a job absent from the
queue was "finished" whatever had happened to it, and nothing asked `sacct` how it ended, so a job killed
by its time limit, by `scancel` or by the OOM killer looked like any other "finished, UNKNOWN" job. Any
exception inside its loop killed the daemon: software-layer #285 "Bot job manager crashes" came from jobs
cancelled by hand. These tests run real jobs (the target repository's `bot/build.sh` and
`bot/check-build.sh`, as the PR changes them) through the bot's whole pipeline and follow them with the
real manager, cycle by cycle, checking what the PR shows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from eessi_bot.core.jobs import Job, JobState
from eessi_bot.jobs import paths
from eessi_bot.ports.scheduler import SchedulerUnavailable
from tests.fakes.pipeline import PR, REPO, Pipeline
from tests.fakes.upstream import Upstream, make_upstream
from tests.slurm import cancel_all, force_timeout, run, sacct_job, squeue_job, wait_state
from tests.waiting import wait_for

POLL_SLEEP = 0.2
"""Seconds between manager cycles in these tests (the fake clock moves on by as much)."""
MANAGER_EXTRA = "\n[job_manager]\npoll_interval = 1\n"
UNKNOWN_RESULT = "Job results file `_bot_job{job_id}.result` does not exist in job directory, or parsing it failed"
STATUS_HEADER = "|on|for|repo|state|result|deploy|date|commit|job|"


# ---------------------------------------------------------------- the target repository's scripts

@dataclass(frozen=True)
class Behaviour:
    """What the PR's `bot/build.sh` and `bot/check-build.sh` do when building for one architecture."""

    build_seconds: int
    result: str
    """What check-build.sh writes into `_bot_job<ID>.result`: "success", "binary" or "no-section"."""


RESULT_WRITERS = {
    "success": (
        'cat > "$result" <<EOT\n'
        "[RESULT]\n"
        "comment_description = :grin: SUCCESS built $(tr '\\n' ' ' < easystack.yml) for ${subdir}\n"
        "status = SUCCESS\n"
        "artefacts =\n"
        "    eessi-2023.06-software-linux-${subdir//\\//-}-1700000000.tar.gz\n"
        "EOT\n"),
    # NUL bytes, invalid UTF-8, a broken section header, a lone `|`: nothing of it may reach the PR.
    "binary": ("printf '\\x00\\xff\\xfe[RESULT\\x01\\x02|\\xc3\\x28 junk\\n\\x00\\x00status = SUCCESS\\n'"
               " > \"$result\"\n"),
    # A well-formed INI file without a [RESULT] section.
    "no-section": "printf '[SUMMARY]\\nstatus = SUCCESS\\ncomment_description = looks fine\\n' > \"$result\"\n",
}


def scripts(behaviours: Dict[str, Behaviour]) -> Dict[str, str]:
    """`bot/build.sh` and `bot/check-build.sh` that behave per `software_subdir` of `cfg/job.cfg`."""
    read_subdir = "subdir=$(sed -n 's/^software_subdir *= *//p' cfg/job.cfg)\n"
    build = ["#!/bin/bash", "# a target repository's build step; how long it takes depends on the architecture",
             read_subdir.strip(), 'echo "building $(tr \'\\n\' \' \' < easystack.yml) for ${subdir}"',
             'case "$subdir" in']
    check = ["#!/bin/bash", read_subdir.strip(), 'result="_bot_job${SLURM_JOB_ID}.result"', 'case "$subdir" in']
    for subdir, behaviour in behaviours.items():
        build.append(f"  {subdir}) sleep {behaviour.build_seconds} ;;")
        check.append(f"  {subdir})\n" + RESULT_WRITERS[behaviour.result] + "    ;;")
    build += ["  *) echo \"unexpected architecture ${subdir}\"; exit 2 ;;", "esac",
              'tar czf "eessi-2023.06-software-linux-${subdir//\\//-}-1700000000.tar.gz" easystack.yml', ""]
    check += ["esac", ""]
    return {"bot/build.sh": "\n".join(build), "bot/check-build.sh": "\n".join(check)}


# ---------------------------------------------------------------- a bot instance on Slurm

def node_map(nodes: Dict[str, Tuple[str, str]]) -> str:
    """node type -> (cpu_subdir, slurm_params)."""
    return json.dumps({name: {"os": "linux", "cpu_subdir": subdir, "slurm_params": params,
                              "repo_targets": ["eessi.io-2023.06-software"]}
                       for name, (subdir, params) in nodes.items()})


@pytest.fixture
def job_name(slurm_cluster: None) -> Iterator[str]:
    name = f"bot-mgr-{uuid.uuid4().hex[:8]}"
    yield name
    cancel_all(name)


def make_bot(root: Path, job_name: str, nodes: Dict[str, Tuple[str, str]], behaviours: Dict[str, Behaviour],
             bots: List[Pipeline]) -> Tuple[Pipeline, Upstream]:
    """A Slurm bot instance and a PR whose own bot/*.sh scripts behave as `behaviours` say."""
    upstream = make_upstream(root / "remote")
    head = upstream.open_pr(PR, {**scripts(behaviours), "easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    bot = Pipeline(root / "site", backend="slurm", node_type_map=node_map(nodes),
                   buildenv_extra=f"job_name = {job_name}", extra=MANAGER_EXTRA)
    bots.append(bot)
    bot.open_pr(upstream, head)
    return bot, upstream


def jobs(bot: Pipeline) -> List[Job]:
    return bot.runtime.jobs.for_pr(REPO, PR)


def job_of(bot: Pipeline, node_type: str, nth: int = 0) -> Job:
    return [j for j in jobs(bot) if j.node_type == node_type][nth]


def job_id(job: Job) -> str:
    assert job.job_id is not None, job
    return job.job_id


def drive(bot: Pipeline, until: Callable[[], bool], timeout: float,
          after_cycle: Optional[Callable[[], None]] = None) -> int:
    """Manager cycles (each followed by sending its writes) until `until()` holds; the number of cycles."""
    cycles = 0

    def manager_cycles_until_done() -> bool:
        nonlocal cycles
        if until():
            return True
        bot.runtime.manage()
        cycles += 1
        if after_cycle is not None:
            after_cycle()
        bot.clock.advance(POLL_SLEEP)
        return False

    try:
        wait_for(manager_cycles_until_done, timeout=timeout, interval=POLL_SLEEP)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; jobs: {[(j.job_id, j.state) for j in jobs(bot)]}") from None
    return cycles


def finished(bot: Pipeline, *wanted: Job) -> Callable[[], bool]:
    keys = {j.key for j in wanted}
    return lambda: all(j.state is JobState.FINISHED for j in jobs(bot) if j.key in keys)


# ---------------------------------------------------------------- what the PR shows

def cells(line: str) -> List[str]:
    """The cells of a markdown table row (`\\|` is a `|` inside a cell)."""
    return [c.replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def job_comment(bot: Pipeline, job: Job) -> Tuple[int, str]:
    """The id and body of the job's comment as the in-memory GitHub holds it."""
    marker = f"job id `{job_id(job)}` awaits release"
    (found,) = [(cid, c.body) for cid, (repo, number, c) in bot.github.comments.items()
                if (repo, number) == (REPO, PR) and c.via_app_id and c.body.startswith("New job") and marker in c.body]
    return found


def comment_rows(body: str) -> List[Tuple[str, str]]:
    """(status, comment) of every row of the job comment's `|date|job status|comment|` table."""
    lines = body.split("|date|job status|comment|", 1)[1].splitlines()[2:]
    return [(row[1], row[2]) for row in map(cells, (line for line in lines if line.startswith("|")))]


def edits(bot: Pipeline, comment_id: int) -> int:
    return sum(1 for w in bot.github.writes if w.verb == "edit" and w.target == comment_id)


def assert_one_edit_per_row(bot: Pipeline, job: Job) -> List[Tuple[str, str]]:
    """The comment was made with its first row, then edited once per further row, never on idle cycles."""
    comment_id, body = job_comment(bot, job)
    rows = comment_rows(body)
    assert edits(bot, comment_id) == len(rows) - 1, (rows, [w.verb for w in bot.github.writes])
    return rows


def finished_row(bot: Pipeline, job: Job) -> str:
    rows = comment_rows(job_comment(bot, job)[1])
    assert [s for s, _ in rows].count("finished") == 1, rows
    status, text = rows[-1]
    assert status == "finished", rows
    return text


def answer(bot: Pipeline, command: str) -> str:
    """The bot's answer to the newest comment with `command` (in the `command_response_fmt` layout)."""
    return [c for c in bot.bot_comments() if f"handling command `{command}`" in c][-1]


def status_table(text: str) -> Dict[str, Tuple[str, str]]:
    """job id -> (state, result) of a `bot: status` answer."""
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index(STATUS_HEADER)
    table: Dict[str, Tuple[str, str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        row = cells(line)
        link = re.match(r"\[(\d+)\]|`(\d+)`", row[8])
        assert link is not None, line
        table[link.group(1) or link.group(2)] = (row[3], row[4])
    return table


@pytest.fixture
def manager_errors(caplog: pytest.LogCaptureFixture) -> Callable[[], List[str]]:
    """Errors the job manager logged (a job it could not follow, a cycle that failed)."""
    caplog.set_level(logging.WARNING, logger="eessi_bot")
    return lambda: [r.getMessage() for r in caplog.records
                    if r.name.startswith("eessi_bot.jobs") and r.levelno >= logging.ERROR]


# ---------------------------------------------------------------- 1 + 7: one job's whole life

def test_life_of_a_job_held_released_running_finished(tmp_path: Path, job_name: str, bots: List[Pipeline],
                                                     manager_errors: Callable[[], List[str]]) -> None:
    """The EESSI manager (reference §6.3-6.4) looked for the job's comment on every poll and appended a
    row with a read-modify-write edit; here the comment follows the job's database row, is edited once
    per state change and never on idle polls, and the finished row says how Slurm ended the job
    (`sacct`), not just that it left the queue. The bot submits `--hold`; the manager, not anybody
    else, releases the job."""
    bot, _ = make_bot(tmp_path, job_name, {"cpu_zen2": ("x86_64/amd/zen2", "-p zen2")},
                      {"x86_64/amd/zen2": Behaviour(build_seconds=3, result="success")}, bots)
    bot.comment("bot: build for:arch=x86_64/amd/zen2")
    (job,) = jobs(bot)
    held = squeue_job(job_id(job))
    assert held is not None and (held["state"], held["reason"]) == ("PENDING", "JobHeldUser"), held
    assert [s for s, _ in comment_rows(job_comment(bot, job)[1])] == ["submitted"]

    seen: List[List[str]] = []

    def snapshot() -> None:
        statuses = [s for s, _ in comment_rows(job_comment(bot, job)[1])]
        if not seen or seen[-1] != statuses:
            seen.append(statuses)

    bot.runtime.manage()
    snapshot()
    assert job_of(bot, "cpu_zen2").state is JobState.RELEASED
    wait_state(job_id(job), "RUNNING", timeout=20)  # released by the manager's cycle, nobody else
    cycles = drive(bot, finished(bot, job), timeout=60, after_cycle=snapshot)
    assert cycles > 5, "the job ran for several idle cycles"
    assert seen == [["submitted", "released"], ["submitted", "released", "running"],
                    ["submitted", "released", "running", "finished"]]

    rows = assert_one_edit_per_row(bot, job)
    assert [s for s, _ in rows] == ["submitted", "released", "running", "finished"]
    assert rows[0][1] == f"job id `{job.job_id}` awaits release by job manager"
    assert rows[1][1] == "job awaits launch by Slurm scheduler"
    assert rows[2][1] == f"job `{job.job_id}` is running"
    text = rows[3][1]
    assert ":grin: SUCCESS built easyconfigs: - GCC-13.2.0.eb for x86_64/amd/zen2" in text
    assert "job ended `COMPLETED`" in text
    for _ in range(3):
        bot.runtime.manage()
    assert_one_edit_per_row(bot, job)  # idle cycles after the end write nothing
    ended = job_of(bot, "cpu_zen2")
    assert (ended.end_state, ended.result_status) == ("COMPLETED", "SUCCESS")
    assert manager_errors() == []
    # sacct lags squeue: the row must still carry accounting's exit code (see the last test of this file).
    assert "job ended `COMPLETED`, exit code `0:0`" in text, text
    assert ended.exit_code == "0:0"


# ---------------------------------------------------------------- 2-6: everything that can go wrong, one manager

@dataclass(frozen=True)
class EndCase:
    id: str
    node_type: str
    subdir: str
    slurm_params: str
    behaviour: Behaviour
    action: Optional[str]
    """Done once the manager has seen the job running: "scancel" (by hand) or "timeout"."""
    ended: str
    """In the finished row."""
    result: str
    """The result column of `bot: status`."""
    unknown_result: bool


END_CASES = [
    # software-layer #285: a job cancelled by hand crashed the EESSI manager.
    EndCase("scancel-by-hand", "cpu_zen2", "x86_64/amd/zen2", "-p zen2", Behaviour(300, "success"), "scancel",
            "job ended `CANCELLED`", ":shrug: UNKNOWN (CANCELLED)", True),
    # §12.3: without sacct a TIMEOUT was "finished, UNKNOWN"; `--time=1` and force_timeout end it within 30 s.
    EndCase("timeout", "cpu_zen3", "x86_64/amd/zen3", "-p zen3 --time=1", Behaviour(300, "success"), "timeout",
            "job ended `TIMEOUT`", ":shrug: UNKNOWN (TIMEOUT)", True),
    # Result files are PR output: binary junk, or INI without [RESULT], must give a readable UNKNOWN row.
    EndCase("binary-result-file", "cpu_zen4", "x86_64/amd/zen4", "-p zen4", Behaviour(1, "binary"), None,
            "job ended `COMPLETED`", ":shrug: UNKNOWN", True),
    EndCase("no-result-section", "cpu_haswell", "x86_64/intel/haswell", "-p x86_64", Behaviour(1, "no-section"),
            None, "job ended `COMPLETED`", ":shrug: UNKNOWN", True),
]
LATER = EndCase("later-build", "cpu_neoverse_v1", "aarch64/neoverse_v1", "-p neoverse_v1", Behaviour(2, "success"),
                None, "job ended `COMPLETED`", ":grin: SUCCESS", False)


def test_manager_survives_cancel_timeout_and_junk_results(tmp_path: Path, job_name: str, bots: List[Pipeline],
                                                          manager_errors: Callable[[], List[str]]) -> None:
    """One manager follows a job cancelled by hand (software-layer #285 crashed the EESSI manager), a
    job killed by its time limit and two jobs whose check script wrote junk (§12.3: the EESSI manager
    showed all of them as "finished, UNKNOWN"); each gets a finished row saying how it ended. Then the
    same manager follows a new build to SUCCESS and a job cancelled with `bot: cancel` (whose row
    names who cancelled it), and `bot: status` lists every job with its state and result."""
    cases = [*END_CASES, LATER]
    bot, _ = make_bot(tmp_path, job_name, {c.node_type: (c.subdir, c.slurm_params) for c in cases},
                      {c.subdir: c.behaviour for c in cases}, bots)

    bot.comment("bot: build for:arch=x86_64/.*")
    first = {c.id: job_of(bot, c.node_type) for c in END_CASES}
    assert len(jobs(bot)) == len(END_CASES)
    for job in first.values():
        queued = squeue_job(job_id(job))
        assert queued is not None and queued["reason"] == "JobHeldUser", queued
    done_actions: Dict[str, str] = {}

    def act() -> None:
        """Cancel or time out a job once the manager has reported it running."""
        for case in END_CASES:
            job = job_of(bot, case.node_type)
            if case.action and case.id not in done_actions and job.state is JobState.RUNNING:
                if case.action == "scancel":
                    run(["scancel", job_id(job)])
                else:
                    force_timeout(job_id(job))
                done_actions[case.id] = job_id(job)

    drive(bot, finished(bot, *first.values()), timeout=90, after_cycle=act)
    assert sorted(done_actions) == ["scancel-by-hand", "timeout"]
    for case in END_CASES:
        job = job_of(bot, case.node_type)
        rows = assert_one_edit_per_row(bot, job)
        assert [s for s, _ in rows][:2] == ["submitted", "released"], (case.id, rows)
        text = finished_row(bot, job)
        assert case.ended in text, (case.id, text)
        if case.unknown_result:
            assert UNKNOWN_RESULT.format(job_id=job.job_id) in text, (case.id, text)
            assert job.result_status == "UNKNOWN"
        assert "\x00" not in text and "\ufffd" not in text and "junk" not in text, (case.id, text)

    # The same manager goes on: a new build is followed to its end ...
    bot.comment(f"bot: build for:arch={LATER.subdir}")
    later = job_of(bot, LATER.node_type)
    # ... and a running job is cancelled with `bot: cancel`.
    bot.comment("bot: build for:arch=x86_64/amd/zen2")
    again = job_of(bot, "cpu_zen2", 1)
    drive(bot, lambda: job_of(bot, "cpu_zen2", 1).state is JobState.RUNNING, timeout=30)
    bot.comment(f"bot: cancel {again.job_id}")
    assert f"cancelled job `{again.job_id}` on node type `cpu_zen2`" in answer(bot, f"cancel {again.job_id}")
    drive(bot, finished(bot, later, again), timeout=60)

    assert LATER.ended in finished_row(bot, later)
    assert ":grin: SUCCESS built easyconfigs: - GCC-13.2.0.eb for aarch64/neoverse_v1" in finished_row(bot, later)
    cancelled = finished_row(bot, again)
    assert "job ended `CANCELLED`" in cancelled and cancelled.endswith(", cancelled by `maintainer`"), cancelled
    for job in (later, again):
        assert_one_edit_per_row(bot, job)

    bot.comment("bot: status")
    table = status_table(answer(bot, "status"))
    expected = {job_id(first[c.id]): ("finished", c.result) for c in END_CASES}
    expected[job_id(later)] = ("finished", LATER.result)
    expected[job_id(again)] = ("finished", ":shrug: UNKNOWN (CANCELLED)")
    assert table == expected
    assert manager_errors() == []

    # Every finished row names the end state and exit code Slurm's accounting has for the job, not the end
    # marker's exit code (`0`, `143`) of a job reported before sacct's row was final.
    wrong = []
    for job in [*first.values(), later, again]:
        slurm = sacct_job(job_id(job))
        said = f"job ended `{slurm['State']}`, exit code `{slurm['ExitCode']}`"
        if said not in finished_row(bot, job):
            wrong.append(f"job {job.job_id}: sacct {said!r}, the row {finished_row(bot, job).split('<br/>')[-1]!r}")
    assert wrong == []


# ---------------------------------------------------------------- the exit code while sacct lags

def test_finished_row_waits_for_slurms_exit_code(tmp_path: Path, job_name: str, bots: List[Pipeline],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The finished row carries the exit code of Slurm's accounting, even while sacct lags squeue.

    §12.3: the EESSI manager never asked sacct, so a job's end was guessed. Here squeue shows a job's end
    state at once, but sacct's final row lags it by 0.2-4 s (tests/slurm.py, reference
    test-infrastructure.md gotcha 2), and `JobManager.run` looks at a job right when its end marker
    appears. In that window the manager must not report the exit code of the marker file (`0`, the job
    script's exit status; `143` for a killed job) or none: it reports Slurm's `0:0` (COMPLETED is exit code
    0; see test_an_end_the_queue_settles_is_reported_while_sacct_lags). The lag is made deterministic by a
    `sacct` on PATH that answers nothing (as sacct does for a job it has no row for yet) until the test
    lets the real one through.
    """
    real_sacct = shutil.which("sacct")
    assert real_sacct is not None
    lagging = tmp_path / "sacct-lags"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "sacct"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{lagging}" ] && exit 0\nexec "{real_sacct}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    bot, _ = make_bot(tmp_path, job_name, {"cpu_zen4": ("x86_64/amd/zen4", "-p zen4")},
                      {"x86_64/amd/zen4": Behaviour(build_seconds=2, result="success")}, bots)
    bot.comment("bot: build for:arch=x86_64/amd/zen4")
    (job,) = jobs(bot)
    drive(bot, lambda: job_of(bot, "cpu_zen4").state is JobState.RUNNING, timeout=30)
    lagging.touch()
    wait_state(job_id(job), "COMPLETED", timeout=30)  # squeue shows the end; sacct has no final row yet
    bot.runtime.manage()  # the manager looks now, as the end marker makes it do
    lagging.unlink()
    drive(bot, finished(bot, job), timeout=30)
    slurm = sacct_job(job_id(job))
    assert (slurm["State"], slurm["ExitCode"]) == ("COMPLETED", "0:0")
    text = finished_row(bot, job)
    assert text.endswith("job ended `COMPLETED`, exit code `0:0`"), text.split("<br/>")[-1]


# ---------------------------------------------------------------- the controller goes away for a while

def test_controller_outage_reports_nothing_false_and_everything_after(tmp_path: Path, job_name: str,
                                                                     bots: List[Pipeline]) -> None:
    """slurmctld stopped while a job runs and ends: the manager survives, reports nothing while it cannot
    know, and reports the result within seconds of the controller's return (the EESSI bot's manager did
    as much in the measured 66 s outage; reference/eessi-bot-measured.md)."""
    bot, _ = make_bot(tmp_path, job_name, {"cpu_zen2": ("x86_64/amd/zen2", "-p zen2")},
                      {"x86_64/amd/zen2": Behaviour(build_seconds=3, result="success")}, bots)
    bot.comment("bot: build for:arch=x86_64/amd/zen2")
    drive(bot, lambda: job_of(bot, "cpu_zen2").state is JobState.RUNNING, timeout=30)
    job = job_of(bot, "cpu_zen2")
    controller = int(Path("/run/slurmctld.pid").read_text().split()[0])
    os.kill(controller, 15)
    try:
        marker = Path(job.job_dir) / f"_bot_job{job_id(job)}.done"

        def job_ended_while_the_controller_is_down() -> bool:
            return marker.exists()

        wait_for(job_ended_while_the_controller_is_down, timeout=60, interval=0.2)
        with pytest.raises(SchedulerUnavailable):
            bot.runtime.manage()
        assert job_of(bot, "cpu_zen2").rows == job.rows, "nothing is reported while the controller is away"
    finally:
        run(["/bin/bash", str(Path(__file__).resolve().parents[2] / "scripts" / "slurm-up.sh")], timeout=120)
    back = time.monotonic()
    drive(bot, finished(bot, job), timeout=60)
    assert time.monotonic() - back < 35, "reported soon after the controller came back"
    text = finished_row(bot, job)
    slurm = sacct_job(job_id(job))
    assert f"job ended `{slurm['State']}`, exit code `{slurm['ExitCode']}`" in text
    assert job_of(bot, "cpu_zen2").result_status == "SUCCESS"


# ---------------------------------------------------------------- a job's end reaches the PR at once

def lagging_sacct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `sacct` on PATH that answers nothing (as sacct does for a job it has no row for yet) while the
    returned file exists; the real one otherwise."""
    real_sacct = shutil.which("sacct")
    assert real_sacct is not None
    lagging = tmp_path / "sacct-lags"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "sacct"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{lagging}" ] && exit 0\nexec "{real_sacct}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return lagging


def bot_with_build(root: Path, job_name: str, build: str, bots: List[Pipeline], poll_interval: int = 1) -> Pipeline:
    """A Slurm bot instance whose PR's `bot/build.sh` is `build` (and check-build.sh reports SUCCESS)."""
    upstream = make_upstream(root / "remote")
    head = upstream.open_pr(PR, {"bot/build.sh": build, "easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    bot = Pipeline(root / "site", backend="slurm", node_type_map=node_map({"cpu_zen4": ("x86_64/amd/zen4", "-p zen4")}),
                   buildenv_extra=f"job_name = {job_name}", extra=f"\n[job_manager]\npoll_interval = {poll_interval}\n")
    bots.append(bot)
    bot.open_pr(upstream, head)
    return bot


@pytest.mark.parametrize(("build_exit", "state", "exit_code"), [(0, "COMPLETED", "0:0"), (3, "FAILED", "3:0")],
                         ids=["completed", "failed"])
def test_an_end_the_queue_settles_is_reported_while_sacct_lags(
        tmp_path: Path, job_name: str, bots: List[Pipeline], monkeypatch: pytest.MonkeyPatch,
        build_exit: int, state: str, exit_code: str) -> None:
    """sacct's final row comes up to 2.5 s after squeue shows a job ended (slurmdbd takes rows in batches):
    waiting for it would make every result late. COMPLETED means exit code `0:0`, and a FAILED job whose
    script wrote exit code N into its end marker ended `N:0`: the first cycle after squeue shows the end
    reports it, with what sacct says once it has caught up."""
    lagging = lagging_sacct(tmp_path, monkeypatch)
    bot = bot_with_build(tmp_path, job_name, f"#!/bin/bash\nsleep 1\nexit {build_exit}\n", bots)
    bot.comment("bot: build for:arch=x86_64/amd/zen4")
    drive(bot, lambda: job_of(bot, "cpu_zen4").state is JobState.RUNNING, timeout=30)
    job = job_of(bot, "cpu_zen4")
    lagging.touch()
    wait_state(job_id(job), state, timeout=30)
    bot.runtime.manage()
    assert job_of(bot, "cpu_zen4").state is JobState.FINISHED, "reported without sacct's row"
    assert finished_row(bot, job).endswith(f"job ended `{state}`, exit code `{exit_code}`")
    lagging.unlink()
    slurm = sacct_job(job_id(job))
    assert (slurm["State"], slurm["ExitCode"]) == (state, exit_code)


def test_the_manager_loop_reports_a_jobs_end_within_two_seconds(tmp_path: Path, job_name: str,
                                                                bots: List[Pipeline]) -> None:
    """At poll_interval = 600 only the end marker brings the end this soon: the job script drops it into the
    bot's directory of ended jobs, which the manager's loop lists once a second; the marker goes once the
    job is reported."""
    bot = bot_with_build(tmp_path, job_name, "#!/bin/bash\nsleep 2\n", bots, poll_interval=600)
    bot.comment("bot: build for:arch=x86_64/amd/zen4")
    stop = threading.Event()
    thread = threading.Thread(target=bot.runtime.manager.run, args=(stop,), daemon=True)
    thread.start()
    try:
        (job,) = wait_for(lambda: [j for j in jobs(bot) if j.state is JobState.FINISHED], timeout=60)
        seen = time.time()
    finally:
        stop.set()
        bot.runtime.jobs_changed.notify()
        thread.join(10)
    ended = (Path(job.job_dir) / f"_bot_job{job.job_id}.done").stat().st_mtime
    assert seen - ended < 2.0, f"reported {seen - ended:.2f} s after the job script ended"
    assert (job.end_state, job.exit_code) == ("COMPLETED", "0:0")
    assert list(paths.ended_dir(bot.config.buildenv.jobs_base_dir, bot.config.github.app_name).iterdir()) == []
