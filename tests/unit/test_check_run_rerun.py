"""A check run's Re-run in jobs/: the same target, commits and exports as a new job; the job behind a check
run found by its external_id and id; what cannot be re-run is refused with the reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional, Tuple

import pytest

from eessi_bot.core.check_runs import check_key
from eessi_bot.core.jobs import Job
from eessi_bot.ports.jobs import Request, RerunRefused
from eessi_bot.ports.store import Store
from tests.fakes.git import HEAD_SHA
from tests.fakes.job_site import PR, REPO, JobSite
from tests.fakes.jobs import make_job


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    """`allowed_exportvars = ["SKIP_TESTS=yes"]` (tests/fakes/site.py)."""
    return JobSite(tmp_path)


def rerun_request(site: JobSite, delivery_id: str = "d-rerun", line: int = 1) -> Request:
    return Request(repo=REPO, number=PR, sender="maintainer", comment_id=0, comment_url="", delivery_id=delivery_id,
                   line=line, received_at=site.clock.now())


def built(site: JobSite, exports: Tuple[str, ...] = ()) -> Job:
    (job,) = site.build("cpu_zen4", exports=exports).submitted
    return job


def test_a_rerun_is_a_new_job_of_the_same_target_commits_and_exports(site: JobSite) -> None:
    first = built(site, ("SKIP_TESTS=yes",))
    site.github.pulls[(REPO, PR)] = replace(site.github.pulls[(REPO, PR)], head_sha="n" * 40)
    report = site.service.rerun(first, rerun_request(site))
    (again,) = report.submitted
    assert again.key == "d-rerun:1:cpu_zen4:eessi.io-2023.06-software" and again.job_id != first.job_id
    assert (again.node_type, again.repo_id, again.software_subdir, again.exports) == (
        first.node_type, first.repo_id, first.software_subdir, ("SKIP_TESTS=yes",))
    assert (Path(again.job_dir) / "cfg" / "export_vars.sh").read_text() == "export SKIP_TESTS=yes"
    pin = site.store.jobs.pin(again.build_key)
    assert pin is not None and pin.checkout.head_sha == HEAD_SHA, "the commits of the re-run check run"
    assert len(site.git.prepared) == 1, "nothing fetched again"
    assert site.jobs_changed.wait(0), "the job manager looks at the new job at once"


def test_a_forgotten_pin_is_fetched_again(site: JobSite) -> None:
    first = built(site)
    del site.store.state.pins[first.build_key]
    (again,) = site.service.rerun(first, rerun_request(site)).submitted
    assert len(site.git.prepared) == 2 and again.state.value == "submitted"


def test_a_redelivered_rerun_submits_nothing_twice(site: JobSite) -> None:
    first = built(site)
    (again,) = site.service.rerun(first, rerun_request(site)).submitted
    (same,) = site.service.rerun(first, rerun_request(site)).submitted
    assert same.job_id == again.job_id and site.scheduler.count("submit") == 2


@pytest.mark.parametrize(("changes", "refusal"), [
    ({"node_type": "(EESSI bot)"}, "node type `(EESSI bot)` no longer builds repository "
                                   "`eessi.io-2023.06-software` on this instance"),
    ({"repo_id": "eessi.io-2023.06-compat"}, "node type `cpu_zen4` no longer builds repository "
                                             "`eessi.io-2023.06-compat` on this instance"),
    ({"exports": ("EVIL=1",)}, "`exportvariable:EVIL=1` is no longer allowed on this instance"),
], ids=["node-type-gone", "repo-target-gone", "export-not-allowed"])
def test_what_cannot_be_rerun_is_refused(site: JobSite, changes: dict, refusal: str) -> None:
    first = replace(built(site), **changes)
    with pytest.raises(RerunRefused) as raised:
        site.service.rerun(first, rerun_request(site))
    assert str(raised.value) == refusal
    assert site.scheduler.count("submit") == 1


@pytest.mark.parametrize(("text", "exports", "refusal"), [
    (None, (), None),
    ("export SKIP_TESTS=yes", ("SKIP_TESTS=yes",), None),
    ("export SKIP_TESTS='yes'\n", ("SKIP_TESTS=yes",), None),
    ("export EVIL=1", (), "`exportvariable:EVIL=1` is no longer allowed on this instance"),
    ("rm -rf ~", (), "its `export_vars.sh` holds a line the bot did not write"),
    ("export 'unclosed", (), "its `export_vars.sh` holds a line the bot did not write"),
], ids=["no-file", "one", "quoted", "not-allowed", "foreign-line", "broken-quote"])
def test_jobs_stored_before_exports_were_kept_read_their_file(site: JobSite, text: Optional[str],
                                                              exports: Tuple[str, ...], refusal: Optional[str]) -> None:
    first = replace(built(site), exports=None)
    script = Path(first.job_dir) / "cfg" / "export_vars.sh"
    if text is None:
        script.unlink(missing_ok=True)
    else:
        script.write_text(text, encoding="utf-8")
    if refusal is not None:
        with pytest.raises(RerunRefused, match=refusal.replace("(", r"\(")):
            site.service.rerun(first, rerun_request(site))
        return
    (again,) = site.service.rerun(first, rerun_request(site)).submitted
    assert again.exports == exports


def test_an_old_job_whose_directory_is_gone_is_refused(site: JobSite, tmp_path: Path) -> None:
    first = replace(built(site), exports=None, job_dir=str(tmp_path / "gone"))
    with pytest.raises(RerunRefused, match="is gone"):
        site.service.rerun(first, rerun_request(site))


def test_the_job_behind_a_check_run(site: JobSite) -> None:
    first = built(site)
    site.store.outbox.record_created(check_key(first.key), 5555, "https://github.com/x/runs/5555", 1,
                                     site.clock.now())
    assert site.service.check_run_job(REPO, 5555, first.key) == site.store.jobs.get(first.key)
    assert site.service.check_run_job(REPO, 6666, first.key) is None, "another check run naming this key"
    assert site.service.check_run_job("other/repo", 5555, first.key) is None
    assert site.service.check_run_job(REPO, 5555, "") is None
    assert site.service.check_run_job(REPO, 5555, "nosuch") is None


@pytest.mark.parametrize("exports", [("SKIP_TESTS=yes",), (), None], ids=["kept", "none", "unknown"])
def test_both_stores_keep_a_jobs_exports(store: Store, exports: Optional[Tuple[str, ...]]) -> None:
    job = replace(make_job("cpu_zen2", "eessi.io-2023.06-software", "1"), exports=exports)
    with store.transaction() as tx:
        tx.save_job(job, 1.0)
    saved = store.jobs.get(job.key)
    assert saved is not None and saved.exports == exports
