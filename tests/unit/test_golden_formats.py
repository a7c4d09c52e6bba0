"""The formats EESSI users and scripts see, pinned as golden files under tests/golden/formats/.

Each case renders one thing with the pure renderers of `eessi_bot.core` (a job comment at each stage of
a job's life, the summary comment, `cfg/job.cfg`, `cfg/export_vars.sh`, the metadata file, the
`bot: status` table) from fixed dates and a site written by `tests.fakes.site`, and compares the bytes
with its golden file. A change of a format therefore shows up as a diff of a plain file.

After an intended change, rewrite the files and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_golden_formats.py
    git diff tests/golden/formats/
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.core.config import Config
from eessi_bot.core.job_comment import render_job_comment, render_summary, submitted_row
from eessi_bot.core.jobfiles import render_export_vars, render_job_cfg, render_metadata
from eessi_bot.core.jobs import Checkout, Job, JobState, JobStatus, JobView
from eessi_bot.core.results import parse_result
from eessi_bot.core.status_table import latest_per_target, render_status
from eessi_bot.core.targets import Target
from eessi_bot.core.transitions import MAX_MISSING_POLLS, Outcome, Seen, advance, finish
from tests.fakes.site import NODE_TYPE_MAP_WITH_GPU as NODE_TYPE_MAP
from tests.fakes.site import write_site
from tests.golden import GOLDEN_DIR, assert_golden, updating
from tests.unit.long_results import check_build_description
from tests.unit.long_results import result_file as eessi_result_file

ENV = {"HOME": "/home/bot", "USER": "bot"}
T0 = datetime(2025, 8, 28, 10, 0, 0, tzinfo=timezone.utc).timestamp()
"""When the command was handled; every later date is T0 plus some minutes, never the wall clock."""

REPO = "EESSI/software-layer"
PR = 42
PR_DIR = f"/project/bot/jobs/2025.08/{REPO}/pr_{PR}"
RUN_DIR = f"{PR_DIR}/event_18fa2650-5cd1-11ec-89c7-a0e0f4a35775/run_000"
CHECKOUT = Checkout(url=f"https://github.com/{REPO}.git", base_ref="2023.06-software.eessi.io",
                    base_sha="5d6e1a1f0a4b5c2d3e4f5a6b7c8d9e0f1a2b3c4d",
                    head_sha="8c3f0e5ab1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6",
                    merge_base="0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
                    merged_tree="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")


SITE_CONFIG = textwrap.dedent("""\
    build_logs_dir = /project/bot/build_logs
    container_cachedir = /project/bot/containers
    http_proxy = http://proxy.example.org:3128
    https_proxy = http://proxy.example.org:3128
    load_modules = Apptainer/1.3.0
    local_tmp = /tmp/$USER/EESSI
    shared_fs_path = /project/shared
    site_config_script = /project/bot/site_config.sh""")
"""Every optional `[buildenv]` key that is copied into `job.cfg [site_config]`."""

ARTEFACT = "eessi-2023.06-software-linux-x86_64-amd-zen2-1756375200.tar.gz"


def result_file(section: str, summary: str, details: str, status: str, artefacts: str = "") -> bytes:
    """A result or test file as EESSI's `bot/check-build.sh` and `bot/check-test.sh` write them (§6.5)."""
    description = (f"<details><summary>{summary} _(click triangle for details)_</summary>"
                   f"<dl><dt>_Details_</dt><dd>{details}</dd>{artefacts}</dl></details>")
    text = f"[{section}]\ncomment_description = {description}\nstatus = {status}\n"
    if section == "RESULT":
        text += f"artefacts =\n    {ARTEFACT}\n" if status == "SUCCESS" else "artefacts =\n"
    return text.encode()


RESULT_SUCCESS = result_file(
    "RESULT", ":grin: SUCCESS",
    ":white_check_mark: job output file <code>slurm-1234567.out</code><br/>"
    ":white_check_mark: no message matching <code>ERROR: </code><br/>", "SUCCESS",
    f"<dt>_Artefacts_</dt><dd><details><summary><code>{ARTEFACT}</code></summary>"
    "size: 234 MiB (245366784 bytes)<br/>entries: 1234<br/></details></dd>")
TEST_SUCCESS = result_file(
    "TEST", ":grin: SUCCESS",
    ":white_check_mark: job output file <code>slurm-1234567.out</code><br/>"
    ":white_check_mark: no message matching <code>FAILED</code><br/>", "SUCCESS")
RESULT_FAILURE = result_file(
    "RESULT", ":cry: FAILURE",
    ":white_check_mark: job output file <code>slurm-1234568.out</code><br/>"
    ":x: found message matching <code>ERROR: </code><br/>", "FAILURE",
    "<dt>_Artefacts_</dt><dd>No artefacts were created or found.</dd>")
TEST_FAILURE = result_file("TEST", ":cry: FAILURE", ":x: the build failed, so no tests were run", "FAILURE")


@dataclass(frozen=True)
class Sites:
    plain: Config
    """`write_site` as it is, plus a GPU node type."""
    full: Config
    """The same with every optional site_config key set."""


def _load(root: Path, buildenv_extra: str = "") -> Config:
    config, problems = load_config(write_site(root, node_type_map=NODE_TYPE_MAP, buildenv_extra=buildenv_extra), ENV)
    assert config is not None, [p.render() for p in problems]
    return config


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Sites:
    return Sites(_load(tmp_path_factory.mktemp("plain")), _load(tmp_path_factory.mktemp("full"), SITE_CONFIG))


def minutes(n: float) -> float:
    return T0 + 60 * n


def target(config: Config, node_type: str, repo_id: str = "eessi.io-2023.06-software",
           accelerator: Optional[str] = None, on_accelerator: Optional[str] = None,
           software_subdir: Optional[str] = None) -> Target:
    node = next(n for n in config.node_types if n.name == node_type)
    return Target(node, repo_id, software_subdir or node.cpu_subdir, accelerator, on_accelerator)


def job_dir(t: Target) -> str:
    accel = f"/{t.accelerator}" if t.accelerator else ""
    return f"{RUN_DIR}/{t.software_subdir}{accel}/{t.node.name}/{t.repo_id}"


def submitted(config: Config, t: Target, job_id: str = "1234567", delay: Optional[int] = None,
              at: float = T0, build_key: str = "18fa2650:0") -> Job:
    """A job right after `sbatch` answered, as jobs/build.py records it."""
    key = f"{build_key}:{t.node.name}:{t.repo_id}"
    job = Job(key=key, build_key=build_key, repo=REPO, pr_number=PR, node_type=t.node.name, repo_id=t.repo_id,
              software_subdir=t.software_subdir, accelerator=t.accelerator, on_arch=t.on_arch,
              on_accelerator=t.on_accelerator, job_dir=job_dir(t), backend="slurm", comment_key=f"job:{key}",
              state=JobState.SUBMITTED, job_id=job_id, symlink=f"{PR_DIR}/{job_id}", created_at=at, updated_at=at)
    return job.with_row(submitted_row(config.templates, job_id, at, delay))


def step(config: Config, job: Job, seen: Seen, at: float, delayed_begin: bool = False) -> Job:
    """One manager cycle that changes the job (asserted, so a case cannot silently stand still)."""
    moved = advance(job, seen, config.templates, at, delayed_begin)
    assert moved.job != job and not moved.needs_outcome
    return moved.job


def ended(config: Config, job: Job, seen: Seen, outcome: Outcome, at: float) -> Job:
    assert advance(job, seen, config.templates, at, False).needs_outcome
    return finish(job, seen, outcome, config.templates, at)


def held(config: Config, t: Optional[Target] = None, job_id: str = "1234567", at: float = T0) -> Job:
    return submitted(config, t or target(config, "cpu_zen2"), job_id, at=at)


def released(config: Config, t: Optional[Target] = None, job_id: str = "1234567", at: float = T0) -> Job:
    return step(config, held(config, t, job_id, at), Seen(JobStatus("PENDING", "JobHeldUser", held=True)), at + 60)


def running(config: Config, t: Optional[Target] = None, job_id: str = "1234567", at: float = T0) -> Job:
    return step(config, released(config, t, job_id, at), Seen(JobStatus("RUNNING")), at + 180)


def succeeded(config: Config, t: Optional[Target] = None, job_id: str = "1234567", at: float = T0) -> Job:
    outcome = Outcome(parse_result(RESULT_SUCCESS, "RESULT"), parse_result(TEST_SUCCESS, "TEST"))
    seen = Seen(None, end=JobStatus("COMPLETED", exit_code="0:0"))
    return ended(config, running(config, t, job_id, at), seen, outcome, at + 3780)


def long_result(config: Config) -> Job:
    """An EESSI build of 420 modules: its description (~31,000 characters) is over MAX_DESCRIPTION."""
    outcome = Outcome(parse_result(eessi_result_file(check_build_description(420)), "RESULT"),
                      parse_result(TEST_SUCCESS, "TEST"))
    seen = Seen(None, end=JobStatus("COMPLETED", exit_code="0:0"))
    return ended(config, running(config), seen, outcome, T0 + 3780)


def failed(config: Config, t: Optional[Target] = None, job_id: str = "1234568", at: float = T0) -> Job:
    outcome = Outcome(parse_result(RESULT_FAILURE, "RESULT"), parse_result(TEST_FAILURE, "TEST"))
    seen = Seen(None, end=JobStatus("FAILED", exit_code="1:0"))
    return ended(config, running(config, t, job_id, at), seen, outcome, at + 1500)


def cancelled(config: Config, t: Optional[Target] = None, job_id: str = "1234569", at: float = T0) -> Job:
    """`bot: cancel` by a maintainer while the job ran: no result files were written."""
    job = replace(running(config, t, job_id, at), cancelled_by="maintainer")
    seen = Seen(None, end=JobStatus("CANCELLED", exit_code="0:15"))
    return ended(config, job, seen, Outcome(parse_result(None, "RESULT"), parse_result(None, "TEST")), at + 600)


def vanished(config: Config, job_dir_exists: bool) -> Job:
    """Neither squeue nor sacct knows the running job for MAX_MISSING_POLLS polls in a row."""
    job = running(config)
    for poll in range(1, MAX_MISSING_POLLS):
        job = step(config, job, Seen(None), minutes(10 + poll))
    outcome = Outcome(parse_result(None, "RESULT"), parse_result(None, "TEST"), job_dir_exists=job_dir_exists)
    return ended(config, job, Seen(None), outcome, minutes(10 + MAX_MISSING_POLLS))


def comment(config: Config, job: Job) -> str:
    return render_job_comment(config.templates, config.instance, job, CHECKOUT.head_sha)


def gpu(config: Config) -> Target:
    return target(config, "gpu_h100", accelerator="nvidia/cc90", on_accelerator="nvidia/cc90")


def delayed_begin(config: Config) -> Job:
    return submitted(config, target(config, "cpu_zen2"), delay=120)


def received(config: Config) -> Job:
    """`delayed_begin`: the manager sees the job waiting for its begin time."""
    return step(config, delayed_begin(config),
                Seen(JobStatus("PENDING", "BeginTime", eligible_time="2025-08-28T10:02:00")), minutes(1),
                delayed_begin=True)


def summary(config: Config) -> str:
    zen2, zen4 = target(config, "cpu_zen2"), target(config, "cpu_zen4")
    compat = target(config, "cpu_zen2", "eessi.io-2023.06-compat")
    jobs = [succeeded(config, zen2, "1234567"), running(config, compat, "1234568"),
            released(config, zen4, "1234569"), held(config, gpu(config), "1234570")]
    return render_summary(config.instance, jobs, CHECKOUT.head_sha)


def status_views(config: Config) -> List[JobView]:
    """A PR built twice: yesterday's build (all finished) and today's (some still going)."""
    zen2, zen4 = target(config, "cpu_zen2"), target(config, "cpu_zen4")
    compat = target(config, "cpu_zen2", "eessi.io-2023.06-compat")
    old_sha, new_sha = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", CHECKOUT.head_sha
    yesterday, today = minutes(-24 * 60), T0
    url = f"https://github.com/{REPO}/pull/{PR}#issuecomment-"
    old = [
        JobView(failed(config, zen2, "1234001", yesterday), old_sha, url + "2001"),
        JobView(succeeded(config, zen4, "1234002", yesterday), old_sha, url + "2002", ("pending",)),
        JobView(cancelled(config, compat, "1234003", yesterday), old_sha, url + "2003"),
    ]
    never_submitted = replace(held(config, gpu(config), "x", today), state=JobState.SUBMIT_FAILED, job_id=None,
                              rows=(), error="sbatch: error: invalid partition specified: gpu")
    new = [
        JobView(succeeded(config, zen2, "1234567", today), new_sha, url + "3001",
                ("uploaded", "uploaded", "not_uploaded", "skipped")),
        JobView(running(config, zen4, "1234568", today), new_sha, url + "3002"),
        JobView(held(config, compat, "1234569", today), new_sha, None),
        JobView(never_submitted, new_sha, None),
    ]
    return old + new


def lines(text_lines: List[str]) -> str:
    """A list of lines as a text file (what the command puts, indented, into its answer)."""
    return "\n".join(text_lines) + "\n"


def job_cfg(config: Config, t: Target) -> str:
    return render_job_cfg(t, config.buildenv.site_config, config.repos.get(t.repo_id), Path(job_dir(t)) / "cfg")


CASES: List[Tuple[str, Callable[[Sites], str]]] = [
    # The per-job comment (reference §5.6), one file per stage of the job's life.
    ("job_comment_submitted_held.md", lambda s: comment(s.plain, held(s.plain))),
    ("job_comment_submitted_held_accelerator.md", lambda s: comment(s.plain, held(s.plain, gpu(s.plain)))),
    ("job_comment_submitted_delayed_begin.md", lambda s: comment(s.plain, delayed_begin(s.plain))),
    ("job_comment_received_delayed_begin.md", lambda s: comment(s.plain, received(s.plain))),
    ("job_comment_released.md", lambda s: comment(s.plain, released(s.plain))),
    ("job_comment_running.md", lambda s: comment(s.plain, running(s.plain))),
    ("job_comment_finished_success.md", lambda s: comment(s.plain, succeeded(s.plain))),
    ("job_comment_finished_failure.md", lambda s: comment(s.plain, failed(s.plain))),
    ("job_comment_finished_long_result.md", lambda s: comment(s.plain, long_result(s.plain))),
    ("job_comment_cancelled.md", lambda s: comment(s.plain, cancelled(s.plain))),
    ("job_comment_vanished.md", lambda s: comment(s.plain, vanished(s.plain, job_dir_exists=True))),
    ("job_comment_vanished_job_dir_gone.md", lambda s: comment(s.plain, vanished(s.plain, job_dir_exists=False))),
    # `job_comment_mode = summary`: one comment per command.
    ("summary_comment.md", lambda s: summary(s.plain)),
    # Files in the job directory (reference §5.4, §5.7).
    ("job_cfg_cpu.cfg", lambda s: job_cfg(s.plain, target(s.plain, "cpu_zen2"))),
    ("job_cfg_cpu_compat.cfg", lambda s: job_cfg(s.plain, target(s.plain, "cpu_zen2", "eessi.io-2023.06-compat"))),
    ("job_cfg_gpu_site_config.cfg", lambda s: job_cfg(s.full, gpu(s.full))),
    ("export_vars.sh", lambda s: render_export_vars(
        ["SKIP_TESTS=yes", "EESSI_SOFTWARE_SUBDIR_OVERRIDE=x86_64/amd/zen2", "EXTRA_ARGS=--robot --debug"])),
    ("metadata_submitted.metadata", lambda s: render_metadata(REPO, PR, -1, CHECKOUT)),
    ("metadata_with_comment.metadata", lambda s: render_metadata(REPO, PR, 2_345_678_901, CHECKOUT)),
    # `bot: status` and `bot: status last_build` (reference §9).
    ("status.md", lambda s: lines(render_status(status_views(s.plain)))),
    ("status_last_build.md", lambda s: lines(render_status(latest_per_target(status_views(s.plain))))),
]


@pytest.mark.parametrize(("name", "render"), CASES, ids=[c[0] for c in CASES])
def test_format_matches_golden_file(sites: Sites, name: str, render: Callable[[Sites], str]) -> None:
    assert_golden(f"formats/{name}", render(sites))


def test_every_golden_format_file_has_a_case() -> None:
    """A golden file no case renders any more would pin nothing; delete it (or add its case)."""
    if updating():
        pytest.skip("rewriting golden files")
    on_disk = {p.name for p in (GOLDEN_DIR / "formats").iterdir()}
    assert on_disk == {name for name, _ in CASES}


HELPER = [
    # (id, golden file content or None, rendered text, UPDATE_GOLDEN, error expected, file content after)
    ("same-bytes-pass", b"a\nb", "a\nb", "", None, b"a\nb"),
    ("changed-line-shows-a-diff", b"a\nb\n", "a\nc\n", "", "-b\n+c", b"a\nb\n"),
    ("missing-final-newline-counts", b"a\n", "a", "", "No newline at end of file", b"a\n"),
    ("trailing-space-counts", b"key = \n", "key =\n", "", "-key = \n+key =", b"key = \n"),
    ("missing-file-fails", None, "a", "", "create it with UPDATE_GOLDEN=1", None),
    ("update-rewrites", b"old", "new", "1", None, b"new"),
    ("update-creates", None, "new", "1", None, b"new"),
    ("zero-means-compare", b"old", "new", "0", "-old", b"old"),
]


@pytest.mark.parametrize(("before", "actual", "update", "error", "after"), [h[1:] for h in HELPER],
                         ids=[h[0] for h in HELPER])
def test_golden_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: Optional[bytes], actual: str,
                       update: str, error: Optional[str], after: Optional[bytes]) -> None:
    """What an engineer sees when a golden file and the renderer disagree, and what the rewrite does."""
    monkeypatch.setattr("tests.golden.GOLDEN_DIR", tmp_path)
    monkeypatch.setenv("UPDATE_GOLDEN", update)
    path = tmp_path / "formats" / "x.md"
    if before is not None:
        path.parent.mkdir()
        path.write_bytes(before)
    if error is None:
        assert_golden("formats/x.md", actual)
    else:
        with pytest.raises(AssertionError) as raised:
            assert_golden("formats/x.md", actual)
        assert error in str(raised.value)
    assert (path.read_bytes() if path.exists() else None) == after
