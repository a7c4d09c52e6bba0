"""Job comments stay under GitHub's limit (65,536 characters) with balanced HTML, whatever result files
and deploys put into them, in both comment modes; what a reader needs (the result, the test result,
how the job ended) is never what gets cut."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import pytest

from eessi_bot.core.config.defaults import TEMPLATE_DEFAULTS
from eessi_bot.core.deploy.report import upload_row
from eessi_bot.core.effects import Effects
from eessi_bot.core.job_comment import GITHUB_MAX_BODY, render_job_comment, render_summary, submitted_row, water_level
from eessi_bot.core.jobs import Job, JobState, JobStatus
from eessi_bot.core.results import parse_result
from eessi_bot.core.transitions import Outcome, Seen, advance, finish
from tests.fakes.job_site import JobSite
from tests.unit.long_results import balanced, check_build_description, result_file

NOW = 1_800_000_000.0
SHA = "8c3f0e5ab1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6"
TEST_OK = b"[TEST]\ncomment_description = :white_check_mark: tests passed\nstatus = SUCCESS\n"
ENDED = "<br/>job ended `COMPLETED`, exit code `0:0`"


def job(job_id: str, result: bytes, test: bytes = TEST_OK) -> Job:
    """A job through its life to its finished row, as the job manager moves it."""
    start = Job(key=f"d:0:cpu_zen2:{job_id}", build_key="d:0", repo="EESSI/software-layer", pr_number=42,
                node_type="cpu_zen2", repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2",
                accelerator=None, on_arch="amd-zen2", on_accelerator=None, job_dir=f"/jobs/{job_id}",
                backend="slurm", comment_key="jobs:d:0", state=JobState.SUBMITTED, job_id=job_id,
                symlink=f"/jobs/pr_42/{job_id}")
    start = start.with_row(submitted_row(TEMPLATE_DEFAULTS, job_id, NOW, None))
    released = advance(start, Seen(JobStatus("PENDING", "JobHeldUser", held=True)), TEMPLATE_DEFAULTS, NOW + 60,
                       False).job
    running = advance(released, Seen(JobStatus("RUNNING")), TEMPLATE_DEFAULTS, NOW + 120, False).job
    outcome = Outcome(parse_result(result, "RESULT"), parse_result(test, "TEST"))
    return finish(running, Seen(None, JobStatus("COMPLETED", exit_code="0:0")), outcome, TEMPLATE_DEFAULTS, NOW + 3600)


def posted(body: str) -> str:
    """The body as it goes to GitHub (with the hidden marker)."""
    effects = Effects()
    effects.comment("job:d:0:cpu_zen2:eessi.io-2023.06-software", "EESSI/software-layer", 42, body)
    return effects.items[0].body  # type: ignore[union-attr]


def per_job(j: Job) -> str:
    return posted(render_job_comment(TEMPLATE_DEFAULTS, "site-a", j, SHA))


def summary(jobs: Sequence[Job]) -> str:
    return posted(render_summary("site-a", jobs, SHA))


def rows(body: str) -> List[str]:
    return [line for line in body.splitlines() if line.startswith("|") and not line.startswith("|-")][1:]


NESTED_12K = check_build_description(160)
PIPES = "<pre>" + "a|b " * 9_000 + "</pre>"
ONLY_PIPES = "<pre>" + "|" * 40_000 + "</pre>"
PER_JOB = [
    # (id, result file, test file, the finished row holds the description whole, it says it shortened it)
    ("nested-12k-whole", result_file(NESTED_12K), TEST_OK, True, False),
    ("nested-12k-cut-by-a-script", result_file(NESTED_12K[:7_000]), TEST_OK, False, False),
    ("near-the-file-cap", result_file(check_build_description(9_000)), TEST_OK, False, True),
    ("pipes-double-when-escaped", result_file(PIPES), TEST_OK, False, True),
    ("only-pipes-shortened-again", result_file(ONLY_PIPES), result_file(ONLY_PIPES, section="TEST"), False, True),
]


@pytest.mark.parametrize(("result", "test", "whole", "note"), [c[1:] for c in PER_JOB], ids=[c[0] for c in PER_JOB])
def test_a_long_result_gives_a_valid_comment(result: bytes, test: bytes, whole: bool, note: bool) -> None:
    """The acceptance case: a 12,000-character description with nested `<details>`/`<pre>` gives a
    comment under 65,536 characters with balanced tags, SUCCESS shown."""
    body = per_job(job("1234567", result, test))
    finished = rows(body)[-1]
    assert len(body) <= GITHUB_MAX_BODY
    assert balanced(body)
    assert finished.startswith("|") and "|finished|" in finished
    assert finished.endswith(ENDED + "|")
    assert ":white_check_mark: tests passed<br/>" in finished or "test result `SUCCESS`" in finished
    assert ":grin: SUCCESS" in finished or "result `SUCCESS`" in finished
    assert (NESTED_12K in finished) is whole
    assert ("the full text is in `_bot_job1234567.result`" in finished
            or "the full texts are in `_bot_job1234567.result` and `_bot_job1234567.test`" in finished) is note


def test_a_summary_of_200_long_results_shows_every_job() -> None:
    jobs = [job(str(1_000_000 + n), result_file(NESTED_12K)) for n in range(200)]
    body = summary(jobs)
    shown = rows(body)
    assert len(body) <= GITHUB_MAX_BODY and balanced(body)
    assert len(shown) == 200 and "Not shown here" not in body
    for n, line in enumerate(shown):
        assert line.startswith(f"|`{1_000_000 + n}`|")
        assert "result `SUCCESS`, test result `SUCCESS`" in line and line.endswith(ENDED + "|")
        assert f"`_bot_job{1_000_000 + n}.result`" in line


def test_a_summary_too_long_for_one_row_per_job_says_what_it_leaves_out() -> None:
    jobs = [job(str(1_000_000 + n), result_file(NESTED_12K[:2_000])) for n in range(1_000)]
    body = summary(jobs)
    shown = rows(body)
    assert len(body) <= GITHUB_MAX_BODY and balanced(body)
    assert 200 < len(shown) < 1_000 and shown[0].startswith("|`1000000`|")
    assert all("result `SUCCESS`" in line and line.endswith(ENDED + "|") for line in shown)
    assert f"Not shown here: {1_000 - len(shown)} more jobs (GitHub takes at most 65,536 characters" in body


@pytest.mark.parametrize(("uploads", "left_out"), [(40, False), (600, True)], ids=["forty-uploads", "six-hundred"])
def test_a_job_with_many_rows_keeps_its_life_and_latest_uploads(uploads: int, left_out: bool) -> None:
    """Deploys add a row per artefact; the oldest upload rows are left out before the job's own rows
    are shortened."""
    done = job("1234567", result_file(NESTED_12K))
    for n in range(uploads):
        done = done.with_row(upload_row(NOW + 4000 + n, f"eessi-{n}.tar.gz", n % 2 == 0, "S3 said no " * 45))
    body = per_job(done)
    shown = rows(body)
    assert len(body) <= GITHUB_MAX_BODY and balanced(body)
    assert [r.split("|")[2] for r in shown[:4]] == ["submitted", "released", "running", "finished"]
    assert NESTED_12K in shown[3] and shown[3].endswith(ENDED + "|"), "upload rows are left out first"
    assert f"`eessi-{uploads - 1}.tar.gz`" in shown[-1]
    assert ("Not shown here" in body) is left_out
    if left_out:
        assert f"Not shown here: {uploads + 4 - len(shown)} rows of this job" in body


def test_a_short_comment_is_not_touched() -> None:
    done = job("1234567", result_file(check_build_description(2)))
    body = render_job_comment(TEMPLATE_DEFAULTS, "site-a", done, SHA)
    assert done.rows[-1].comment in body and "shortened" not in body


@pytest.mark.parametrize(("lengths", "room", "cap"), [
    ([], 10, 0), ([5, 5], 10, 5), ([5, 5], 100, 5), ([2, 10, 10], 12, 5), ([2, 10, 10], 6, 2), ([9], 0, 0),
    ([1, 100, 1000], 301, 200),
], ids=["none", "exact", "room-to-spare", "short-cell-whole", "all-cut", "no-room", "longest-cut-most"])
def test_water_level(lengths: List[int], room: int, cap: int) -> None:
    assert water_level(lengths, room) == cap
    assert sum(min(length, cap) for length in lengths) <= max(room, 0)


@pytest.mark.parametrize("mode", ["per_job", "summary"])
def test_the_job_manager_posts_a_long_result_within_the_limit(tmp_path: Path, mode: str) -> None:
    """The acceptance case through the job manager: the result file in the job directory, the comment
    as it goes into the outbox."""
    site = JobSite(tmp_path, buildenv_extra=f"local_max_jobs = 8\njob_comment_mode = {mode}")
    jobs = site.build().submitted
    for job_ in jobs:
        site.scheduler.start(job_.job_id or "")
    site.manager.cycle()
    for job_ in jobs:
        (Path(job_.job_dir) / f"_bot_job{job_.job_id}.result").write_bytes(result_file(NESTED_12K))
        (Path(job_.job_dir) / f"_bot_job{job_.job_id}.test").write_bytes(TEST_OK)
        site.scheduler.end(job_.job_id or "", "COMPLETED", "0:0")
    site.manager.cycle()
    bodies = {item.body for item in (site.comment(j.comment_key) for j in jobs) if item is not None}
    assert len(jobs) > 1 and len(bodies) == (1 if mode == "summary" else len(jobs))
    for body in bodies:
        assert len(body) <= GITHUB_MAX_BODY and balanced(body)
        assert body.count(":grin: SUCCESS") == (len(jobs) if mode == "summary" else 1)
        assert body.count(":white_check_mark: tests passed" + ENDED + "|") == body.count(":grin: SUCCESS")
