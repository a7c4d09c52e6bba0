"""deploy/ on fakes: the label starts a deploy that the deployer carries out from the database;
each object lands once, the job comment gets its row, a store outage only delays, refusals are told."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from eessi_bot.core.jobs import Job
from eessi_bot.core.uploads import UploadState
from eessi_bot.deploy.deployer import MAX_BACKOFF
from tests.fakes.job_site import PR, REPO, JobSite

DEPLOY = "\n[deploycfg]\nupload_policy = {policy}\ndeploy_permission = maintainer\nbucket_name = eessi-staging\n"
ZEN4 = "eessi-2023.06-software-linux-x86_64-amd-zen4-{ts}.tar.gz"


def make_site(root: Path, policy: str = "all", **site: Any) -> JobSite:
    return JobSite(root, extra=DEPLOY.format(policy=policy) + site.pop("deploy_extra", ""),
                   buildenv_extra="local_max_jobs = 8", **site)


def built(site: JobSite, *names: str, status: str = "SUCCESS") -> Job:
    """A zen4 job that ends with these artefacts in its job directory."""
    (job,) = site.build("cpu_zen4").submitted
    for name in names:
        if "/" not in name and ";" not in name:
            (Path(job.job_dir) / name).write_bytes(f"tarball {name}".encode() * 1000)
    return site.finish(job, status=status, artefacts="\n".join(names))


def label(site: JobSite, delivery: str = "label-1") -> None:
    site.deploys.label_on(REPO, PR, "maintainer", delivery)


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    return make_site(tmp_path)


def test_a_labelled_pr_uploads_its_artefacts_with_metadata(site: JobSite) -> None:
    job = built(site, ZEN4.format(ts=1700000000))
    label(site)
    assert site.uploads_waiting.wait(0), "the label wakes the deployer"
    site.deployer.cycle()
    name = ZEN4.format(ts=1700000000)
    legacy = "2023.06/software/linux/x86_64/amd/zen4/1700000000"
    assert site.objects.names() == [f"eessi-staging/{legacy}/{name}", f"eessi-staging/{legacy}/{name}.meta.txt"]
    meta = json.loads(site.objects.objects[("eessi-staging", f"{legacy}/{name}.meta.txt")])
    data = site.objects.objects[("eessi-staging", f"{legacy}/{name}")]
    import hashlib

    assert meta["payload"]["sha256sum"] == hashlib.sha256(data).hexdigest()
    assert meta["payload"]["filename"] == name and meta["link2pr"] == {"repo": REPO, "pr": str(PR),
                                                                       "pr_comment_id": "-1"}
    assert meta["uploader"]["hostname"] == "login1.cluster.example"
    saved = site.store.jobs.get(job.key)
    assert saved is not None and saved.rows[-1].status == "uploaded"
    assert f"|uploaded|transfer of `{name}` to S3 bucket succeeded|" in site.comment_body(saved)
    summary = site.comment(f"deploy:{REPO}#{PR}:label-1")
    assert summary is not None and "approved by `maintainer`" in summary.body and "uploaded" in summary.body
    site.deployer.cycle()
    assert len(site.objects.puts) == 2, "nothing is uploaded twice"
    (view,) = site.service.for_pr(REPO, PR)
    assert view.uploads == ("uploaded",), "bot: status shows the deploy"


def test_a_job_finishing_while_the_label_is_on_is_deployed(site: JobSite) -> None:
    label(site)
    site.deployer.cycle()
    assert site.objects.puts == []
    built(site, ZEN4.format(ts=1700000001))
    site.deployer.cycle()
    assert len(site.objects.puts) == 2


def test_failed_jobs_and_other_prs_are_not_deployed(site: JobSite) -> None:
    built(site, ZEN4.format(ts=1700000002), status="FAILURE")
    label(site)
    site.deployer.cycle()
    assert site.objects.puts == [] and site.store.uploads.for_pr(REPO, PR) == []


def test_bad_names_and_links_are_refused_and_the_good_one_goes(site: JobSite) -> None:
    good = ZEN4.format(ts=1700000003)
    (job,) = site.build("cpu_zen4").submitted
    (Path(job.job_dir) / good).write_bytes(b"x" * 100)
    (Path(job.job_dir) / "link.tar.gz").symlink_to("/etc/passwd")
    job = site.finish(job, artefacts="\n".join([good, "x.tar.gz; touch PWNED", "../../etc/passwd", "link.tar.gz"]))
    label(site)
    site.deployer.cycle()
    states = {u.artefact: (u.state, u.reason) for u in site.store.uploads.for_pr(REPO, PR)}
    assert states[good] == (UploadState.UPLOADED, None)
    for bad in ("x.tar.gz; touch PWNED", "../../etc/passwd", "link.tar.gz"):
        assert states[bad][0] is UploadState.NOT_UPLOADED and states[bad][1], bad
    assert "symbolic link" in (states["link.tar.gz"][1] or "")
    assert not Path("PWNED").exists() and not (Path(job.job_dir) / "PWNED").exists()
    assert [k for k in site.objects.names() if "passwd" in k] == []
    body = site.comment_body(site.store.jobs.get(job.key))  # type: ignore[arg-type]
    assert body.count("|not uploaded|") == 3 and body.count("|uploaded|") == 1


def test_an_unreachable_store_delays_and_the_upload_lands_once(site: JobSite) -> None:
    built(site, ZEN4.format(ts=1700000004))
    label(site)
    site.objects.down = True
    for _ in range(12):
        site.deployer.cycle()
        site.clock.advance(MAX_BACKOFF)
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.PENDING and upload.attempts == 12 and "connect" in (upload.reason or "")
    assert upload.next_attempt_at - site.clock.now() <= MAX_BACKOFF
    site.objects.down = False
    site.clock.advance(MAX_BACKOFF)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.UPLOADED and len(site.objects.puts) == 2


def test_a_resumed_upload_puts_nothing_twice(site: JobSite) -> None:
    built(site, ZEN4.format(ts=1700000005))
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    with site.store.transaction() as tx:  # as if the bot died before recording the upload
        tx.save_upload(type(upload)(**{**upload.__dict__, "state": UploadState.PENDING}), site.clock.now())
    site.objects.puts.clear()
    site.deployer.cycle()
    assert site.objects.puts == [] and site.store.uploads.get(upload.key).state is UploadState.UPLOADED  # type: ignore[union-attr]


def test_a_refusing_store_is_reported(site: JobSite) -> None:
    site.objects.buckets.clear()
    built(site, ZEN4.format(ts=1700000006))
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.NOT_UPLOADED and "NoSuchBucket" in (upload.reason or "")


@pytest.mark.parametrize(("policy", "uploaded"), [
    ("all", [1700000007, 1700000008, 1700000009]),
    ("latest", [1700000009]),
    ("once", [1700000007]),
], ids=["all", "latest", "once"])
def test_policies_over_three_builds_of_one_target(tmp_path: Path, policy: str, uploaded: list) -> None:
    site = make_site(tmp_path, policy=policy)
    for ts in (1700000007, 1700000008, 1700000009):
        if policy == "once" and ts != 1700000007:
            label(site, f"label-{ts}")
            site.deployer.cycle()
        site.clock.advance(60)
        built(site, ZEN4.format(ts=ts))
    label(site, "label-last")
    site.deployer.cycle()
    done = sorted(int(u.artefact.split("-")[-1].split(".")[0]) for u in site.store.uploads.for_pr(REPO, PR)
                  if u.state is UploadState.UPLOADED)
    assert done == uploaded


def test_removing_the_label_stops_what_has_not_started(site: JobSite) -> None:
    built(site, ZEN4.format(ts=1700000010))
    label(site)
    site.deployer._plan(site.store.uploads.labels()[0])  # planned, not started
    assert site.deploys.label_off(REPO, PR) == 1
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.STOPPED and site.objects.puts == []
    label(site, "label-2")
    site.deployer.cycle()
    assert site.store.uploads.get(upload.key).state is UploadState.UPLOADED  # type: ignore[union-attr]


def signing_key(tmp_path: Path) -> Path:
    """A real ed25519 key (check-config insists); the fake signer never reads it."""
    key = tmp_path / "keys" / "bot.key"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def test_signing_puts_signatures_beside_both_objects(tmp_path: Path) -> None:
    key = signing_key(tmp_path)
    signing = f'\nsigning = {{"eessi.io-2023.06-software": {{"key": "{key}", "script": "x"}}}}\n'
    site = make_site(tmp_path, deploy_extra=signing)
    built(site, ZEN4.format(ts=1700000011))
    label(site)
    site.deployer.cycle()
    assert [k.rsplit("/", 1)[1] for k in site.objects.names()] == [
        ZEN4.format(ts=1700000011), ZEN4.format(ts=1700000011) + ".meta.txt",
        ZEN4.format(ts=1700000011) + ".meta.txt.sig", ZEN4.format(ts=1700000011) + ".sig"]
    assert site.signer.signed == [(str(key), "test-bot")] * 2


def test_a_signing_failure_stops_that_upload(tmp_path: Path) -> None:
    signing = f'\nsigning = {{"eessi.io-2023.06-software": {{"key": "{signing_key(tmp_path)}"}}}}\n'
    site = make_site(tmp_path, deploy_extra=signing)
    built(site, ZEN4.format(ts=1700000012))
    site.signer.fail = "ssh-keygen: /keys/bot.key: No such file or directory"
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.NOT_UPLOADED and "No such file" in (upload.reason or "")
    assert site.objects.puts == []


def test_once_honours_what_the_eessi_bot_uploaded(tmp_path: Path) -> None:
    """A site that switched: the EESSI bot's `YYYY.MM/pr_N/uploaded.txt` lists a zen4 upload, so
    `once` uploads no zen4 artefact again, while zen2 (never uploaded) goes."""
    site = make_site(tmp_path, policy="once")
    old = site.config.buildenv.jobs_base_dir / "2026.11" / f"pr_{PR}"
    (old / "4242" / "cfg").mkdir(parents=True)
    (old / "4242" / "cfg" / "job.cfg").write_text("[repository]\nrepo_id = eessi.io-2023.06-software\n")
    (old / "uploaded.txt").write_text(f"4242/{ZEN4.format(ts=1600000000)}\n")
    built(site, ZEN4.format(ts=1700000013))
    (zen2,) = site.build("cpu_zen2").submitted[1:]
    zen2_name = "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000013.tar.gz"
    (Path(zen2.job_dir) / zen2_name).write_bytes(b"zen2")
    site.finish(zen2, artefacts=zen2_name)
    label(site)
    site.deployer.cycle()
    states = {u.artefact: u.state for u in site.store.uploads.for_pr(REPO, PR)}
    assert states == {ZEN4.format(ts=1700000013): UploadState.SKIPPED, zen2_name: UploadState.UPLOADED}


def test_a_closed_pr_keeps_its_directories_until_its_uploads_are_done(site: JobSite) -> None:
    job = built(site, ZEN4.format(ts=1700000014))
    label(site)
    site.objects.down = True
    site.deployer.cycle()
    site.service.close_pr(REPO, PR, "close-1", merged=True, sender="maintainer")
    site.manager.cycle()
    assert Path(job.job_dir).is_dir(), "the upload still needs the job directory"
    site.objects.down = False
    site.clock.advance(60)
    site.deployer.cycle()
    site.manager.cycle()
    assert not Path(job.job_dir).exists() and len(site.objects.puts) == 2
