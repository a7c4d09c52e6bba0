"""The job manager on the local backend, through the real pipeline in-process (real git, real jobs)."""

from __future__ import annotations

import configparser
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, List, Tuple

from eessi_bot.core.jobs import Job, JobState
from eessi_bot.jobs import paths
from tests.fakes.pipeline import PR, REPO, Pipeline
from tests.fakes.upstream import BUILD_SH, Upstream, make_upstream
from tests.waiting import wait_for

ONE_NODE = ('{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "",'
            ' "repo_targets": ["eessi.io-2023.06-software"]}}')
TWO_NODES = ('{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "",'
             ' "repo_targets": ["eessi.io-2023.06-software"]},'
             ' "cpu_zen4": {"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "",'
             ' "repo_targets": ["eessi.io-2023.06-software"]}}')


def make_bot(root: Path, seconds: float = 0, nodes: str = ONE_NODE, **site: object) -> Tuple[Pipeline, Upstream]:
    upstream = make_upstream(root / "remote")
    upstream.commit("main", {"bot/build.sh": BUILD_SH.replace('"${BUILD_SECONDS:-0}"', str(seconds))}, "build time")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    bot = Pipeline(root / "site", node_type_map=nodes, extra="\n[job_manager]\npoll_interval = 1\n", **site)
    bot.open_pr(upstream, head)
    return bot, upstream


def jobs(bot: Pipeline) -> List[Job]:
    return bot.runtime.jobs.for_pr(REPO, PR)


def drive(bot: Pipeline, until: Callable[[], bool], timeout: float = 30.0) -> None:
    """Run manager cycles (and send their writes) until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out; jobs: {[(j.job_id, j.state) for j in jobs(bot)]}"
        bot.runtime.manage()
        time.sleep(0.1)


def all_finished(bot: Pipeline) -> bool:
    return bool(jobs(bot)) and all(j.state is JobState.FINISHED for j in jobs(bot))


def job_comments(bot: Pipeline) -> List[str]:
    return [c for c in bot.bot_comments() if c.startswith("New job")]


def test_local_jobs_run_to_a_finished_row(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, upstream = make_bot(tmp_path, seconds=1.5)
    bots.append(bot)
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: all_finished(bot))
    (job,) = jobs(bot)
    assert [r.status for r in job.rows] == ["submitted", "released", "running", "finished"]
    assert (job.end_state, job.exit_code, job.result_status) == ("COMPLETED", "0:0", "SUCCESS")
    assert job.artefacts == ("eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz",)
    (comment,) = job_comments(bot)
    assert "|finished|:grin: SUCCESS built easyconfigs: - GCC-13.2.0.eb<br/>" in comment
    edits = [w for w in bot.github.writes if w.verb == "edit"]
    assert len(edits) == 3, "one edit per state change after the comment was made"
    for _ in range(3):
        bot.runtime.manage()
    assert len([w for w in bot.github.writes if w.verb == "edit"]) == 3, "idle cycles write nothing"
    metadata = configparser.ConfigParser()
    metadata.read(Path(job.job_dir) / f"_bot_job{job.job_id}.metadata")
    (made,) = [cid for cid, (_, _, c) in bot.github.comments.items() if c.body.startswith("New job")]
    assert metadata["PR"]["pr_comment_id"] == str(made), "the metadata names the job's comment once it exists"
    links = bot.config.job_manager.job_ids_dir
    assert (links / "finished" / str(job.job_id)).is_symlink()
    assert not (links / "submitted" / str(job.job_id)).exists()
    del upstream


def test_local_backend_runs_at_most_local_max_jobs(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, _ = make_bot(tmp_path, seconds=1.5, nodes=TWO_NODES, buildenv_extra="local_max_jobs = 1")
    bots.append(bot)
    bot.comment("bot: build for:arch=x86_64/amd/.*")
    bot.runtime.manage()
    states = sorted(j.state.value for j in jobs(bot))
    assert states == ["released", "submitted"], "one job released, the other held until a slot is free"
    seen_both_running = False

    def done() -> bool:
        nonlocal seen_both_running
        seen_both_running |= sum(j.state is JobState.RUNNING for j in jobs(bot)) > 1
        return all_finished(bot)

    drive(bot, done)
    assert not seen_both_running


def test_cancel_a_running_job(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, _ = make_bot(tmp_path, seconds=60)
    bots.append(bot)
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: jobs(bot)[0].state is JobState.RUNNING)
    bot.comment("bot: cancel all")
    answer = next(c for c in bot.bot_comments() if "handling command `cancel all`" in c)
    assert "cancelled job `1` on node type `cpu_zen2`" in answer
    drive(bot, lambda: all_finished(bot))
    (job,) = jobs(bot)
    assert job.end_state == "CANCELLED" and job.cancelled_by == "maintainer"
    assert "job ended `CANCELLED`, exit code `143:0`, cancelled by `maintainer`" in job.rows[-1].comment
    bot.comment("bot: cancel 1 99 all")
    assert "write either job ids or `all`, not both" in bot.bot_comments()[-1]
    bot.comment("bot: cancel 1 99")
    last = bot.bot_comments()[-1]
    assert "job `1` is already finished" in last and "job `99` is not a job of this PR on this instance" in last


def test_status_and_last_build(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, _ = make_bot(tmp_path)
    bots.append(bot)
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: all_finished(bot))
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: len(jobs(bot)) == 2 and all_finished(bot))
    bot.comment("bot: status")
    full = bot.bot_comments()[-1]
    assert full.count("|finished|:grin: SUCCESS|") == 2
    assert "|on|for|repo|state|result|deploy|date|commit|job|" in full
    bot.comment("bot: status last_build")
    latest = bot.bot_comments()[-1]
    assert latest.count("|finished|:grin: SUCCESS|") == 1
    assert f"[{jobs(bot)[-1].job_id}](https://github.com/" in latest


def test_vanished_job_directory_is_reported(tmp_path: Path, bots: List[Pipeline]) -> None:
    """The EESSI job manager crashed when a job's directory or metadata disappeared."""
    bot, _ = make_bot(tmp_path, nodes=TWO_NODES, buildenv_extra="local_max_jobs = 1")
    bots.append(bot)
    bot.comment("bot: build for:arch=x86_64/amd/.*")
    bot.runtime.manage()
    held = next(j for j in jobs(bot) if j.state is JobState.SUBMITTED)
    (Path(held.job_dir) / "_bot_local.cancel").touch()
    deadline = time.monotonic() + 10
    while not (Path(held.job_dir) / "_bot_local.exit").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(held.job_dir)
    drive(bot, lambda: all_finished(bot))
    gone = next(j for j in jobs(bot) if j.key == held.key)
    assert f"job directory `{held.job_dir}` no longer exists" in gone.rows[-1].comment
    assert gone.result_status == "UNKNOWN"
    other = next(j for j in jobs(bot) if j.key != held.key)
    assert other.result_status == "SUCCESS", "the other job went on"


def test_pr_close_moves_directories_after_the_last_job(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, _ = make_bot(tmp_path, seconds=2, chatlevel="chatty")
    bots.append(bot)
    bot.comment("bot: build for:arch=zen2")
    bot.pull_request("closed")
    bot.runtime.manage()
    (job,) = jobs(bot)
    assert Path(job.job_dir).is_dir(), "not moved while the job runs"
    drive(bot, lambda: all_finished(bot))
    bot.runtime.manage()
    assert not Path(job.job_dir).exists()
    trash = bot.config.clean_up.trash_bin_dir / REPO
    (moved,) = list(trash.glob(f"*/*/pr_{PR}"))
    assert (moved / job.job_dir.split(f"pr_{PR}/")[1] / "cfg" / "job.cfg").is_file()
    notice = [c for c in bot.bot_comments() if c.startswith("PR merged! Moved")]
    assert len(notice) == 1 and str(moved) in notice[0]
    bot.pull_request("reopened")
    bot.comment("bot: build for:arch=zen2")
    bot.pull_request("closed")
    drive(bot, lambda: all_finished(bot) and not bot.runtime.jobs.closed_pending())
    assert sorted(p.name for p in trash.glob("*/*/*")) == [f"pr_{PR}", f"pr_{PR}-2"]


def test_cancel_on_close(tmp_path: Path, bots: List[Pipeline]) -> None:
    bot, _ = make_bot(tmp_path, seconds=60)
    bots.append(bot)
    bot.runtime.job_service.cancel_on_close = True
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: jobs(bot)[0].state is JobState.RUNNING)
    bot.pull_request("closed")
    drive(bot, lambda: all_finished(bot) and not bot.runtime.jobs.closed_pending())
    (job,) = jobs(bot)
    assert job.end_state == "CANCELLED" and job.cancelled_by is not None and "PR closed" in job.cancelled_by


def test_restart_reports_jobs_that_ended_while_down(tmp_path: Path, bots: List[Pipeline]) -> None:
    """Jobs finishing while the bot is down are reported once after it is back (the EESSI bot lost
    results when killed between marking a job finished and editing its comment)."""
    bot, _ = make_bot(tmp_path, seconds=0.5, nodes=TWO_NODES)
    bot.comment("bot: build for:arch=x86_64/amd/.*")
    bot.runtime.manage()
    assert all(j.state is JobState.RELEASED for j in jobs(bot))
    bot.runtime.db.close()
    for job in jobs(bot):
        deadline = time.monotonic() + 10
        while not (Path(job.job_dir) / "_bot_local.exit").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    again = Pipeline.__new__(Pipeline)
    again.__dict__.update(bot.__dict__)
    from eessi_bot.cli.runtime import Runtime

    again.runtime = Runtime(bot.config, bot.github, bot.clock)
    bots.append(again)
    again.runtime.manage()
    assert all_finished(again)
    finished_rows = [r for j in jobs(again) for r in j.rows if r.status == "finished"]
    assert len(finished_rows) == 2
    again.runtime.manage()
    assert [r for j in jobs(again) for r in j.rows if r.status == "finished"] == finished_rows


def test_a_fifo_result_file_does_not_stop_the_manager(tmp_path: Path, bots: List[Pipeline]) -> None:
    """A check script that makes its result file a FIFO would block a plain open() for ever."""
    bot, upstream = make_bot(tmp_path)
    bots.append(bot)
    fifo_check = '#!/bin/bash\nmkfifo "_bot_job${SLURM_JOB_ID}.result"\n'
    head = upstream.open_pr(PR, {"bot/check-build.sh": fifo_check})
    bot.open_pr(upstream, head)
    bot.comment("bot: build for:arch=zen2")
    drive(bot, lambda: all_finished(bot), timeout=20)
    (job,) = jobs(bot)
    assert job.result_status == "UNKNOWN"
    assert f"Job results file `_bot_job{job.job_id}.result` does not exist" in job.rows[-1].comment


def test_the_manager_loop_reports_a_jobs_end_within_two_seconds(tmp_path: Path, bots: List[Pipeline]) -> None:
    """At poll_interval = 600 only the end marker brings the end this soon: the job script and the local
    wrapper drop it into the bot's directory of ended jobs, which the manager's loop lists once a second;
    the marker goes once the job is reported."""
    upstream = make_upstream(tmp_path / "remote")
    upstream.commit("main", {"bot/build.sh": BUILD_SH.replace('"${BUILD_SECONDS:-0}"', "1")}, "build time")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    bot = Pipeline(tmp_path / "site", node_type_map=ONE_NODE, extra="\n[job_manager]\npoll_interval = 600\n")
    bots.append(bot)
    bot.open_pr(upstream, head)
    bot.comment("bot: build for:arch=zen2")
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
    assert (job.end_state, job.exit_code, job.result_status) == ("COMPLETED", "0:0", "SUCCESS")
    assert list(paths.ended_dir(bot.config.buildenv.jobs_base_dir, bot.config.github.app_name).iterdir()) == []
