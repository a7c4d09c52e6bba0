"""`bot:deploy` end to end: the bot as a process, the fake GitHub, local jobs, a real S3 (SeaweedFS).

Acceptance of the deploy issue: a permitted label puts both targets' tarballs and metadata under
the configured prefixes (the metadata's sha256 is the object's); anyone else is refused; S3 down
during a deploy, or the bot killed in the middle of a multipart upload, delays the deploy but puts
every object once; the label is acknowledged in milliseconds whatever S3 does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.e2e.harness import PR, REPO, BotProcess
from tests.e2e.test_build import ZEN2_ZEN4
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import Upstream, make_upstream
from tests.fakes.webhooks import pr_payload
from tests.s3 import PrivateS3, S3Server
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

BUILD_SH = """#!/bin/bash
# names the tarball after the target, as EESSI's bot/build.sh does; ARTEFACT_MB makes it big
arch=$(sed -n 's/^software_subdir *= *//p' cfg/job.cfg | tr / -)
name="eessi-2023.06-software-linux-${arch}-1700000000.tar.gz"
head -c "${ARTEFACT_MB:-1}M" /dev/urandom > "$name"
echo "$name" > artefact-name
"""

CHECK_BUILD_SH = """#!/bin/bash
cat > "_bot_job${SLURM_JOB_ID}.result" <<EOT
[RESULT]
comment_description = :grin: SUCCESS built
status = SUCCESS
artefacts =
    $(cat artefact-name)
EOT
"""

DEPLOY = """
[job_manager]
poll_interval = 1

[deploycfg]
upload_policy = all
deploy_permission = maintainer
endpoint_url = {endpoint}
bucket_name = {bucket}
artefact_prefix = ${{github_repository}}/pr-${{pull_request_number}}
metadata_prefix = meta/${{github_repository}}/pr-${{pull_request_number}}
"""


def deploying_bot(tmp_path: Path, github: FakeGitHub, upstream: Upstream, server: S3Server, bucket: str,
                  megabytes: int = 1) -> BotProcess:
    upstream.commit("main", {"bot/build.sh": BUILD_SH.replace("${ARTEFACT_MB:-1}", str(megabytes)),
                             "bot/check-build.sh": CHECK_BUILD_SH}, "name artefacts after their target")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
    github.add_pull(REPO, PR, title="Add GCC", user_login="contributor", base_sha=upstream.sha("main"),
                    head_ref="pr7", head_sha=head)
    bot = BotProcess(tmp_path / "site", github, node_type_map=ZEN2_ZEN4,
                     extra_config=DEPLOY.format(endpoint=server.endpoint, bucket=bucket))
    bot.start()
    return bot


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
        assert fake.schema_errors == []


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return make_upstream(tmp_path / "remote")


def build_and_finish(bot: BotProcess, github: FakeGitHub, arch: str, count: int) -> List[Dict[str, Any]]:
    bot.send("issue_comment", comment_payload(github, f"bot: build for:arch={arch}"))

    def finished() -> List[Dict[str, Any]]:
        done = [c for c in bot_comments(github) if c["body"].startswith("New job") and "|finished|" in c["body"]]
        return done if len(done) == count else []

    return wait_for(finished, timeout=90)


def label(bot: BotProcess, sender: str) -> float:
    response, seconds = bot.send("pull_request", pr_payload("labeled", repo=REPO, number=PR, label="bot:deploy",
                                                            sender_login=sender))
    assert response.status_code == 202
    return seconds


def objects(server: S3Server, bucket: str) -> Dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def stored_objects(server: S3Server, bucket: str, count: int) -> Dict[str, bytes]:
    """The bucket's objects once there are `count` of them (else empty, to wait on)."""
    found = objects(server, bucket)
    return found if len(found) == count else {}


def uploaded_rows(github: FakeGitHub) -> int:
    """`uploaded` rows in the job comments (the deploy's summary comment has a status column too)."""
    return sum(c["body"].count("|uploaded|") for c in bot_comments(github) if c["body"].startswith("New job"))


def test_a_permitted_label_deploys_both_targets(tmp_path: Path, github: FakeGitHub, upstream: Upstream,
                                                s3_env: S3Server, s3_bucket: str) -> None:
    bot = deploying_bot(tmp_path, github, upstream, s3_env, s3_bucket)
    try:
        comments = build_and_finish(bot, github, "x86_64/amd/.*", 2)
        assert label(bot, "mallory") < 0.05
        wait_for(lambda: [c for c in bot_comments(github) if "`mallory`, but this person does not have" in c["body"]])
        wait_for(bot.idle)
        assert objects(s3_env, s3_bucket) == {}, "a refused label uploads nothing"

        seconds = label(bot, "maintainer")
        assert seconds < 0.05, "the label is acknowledged at once"
        stored = wait_for(lambda: stored_objects(s3_env, s3_bucket, 4), timeout=60)
        names = {f"eessi-2023.06-software-linux-x86_64-amd-{uarch}-1700000000.tar.gz" for uarch in ("zen2", "zen4")}
        assert set(stored) == {f"{REPO}/pr-{PR}/{n}" for n in names} | {f"meta/{REPO}/pr-{PR}/{n}.meta.txt"
                                                                          for n in names}
        job_comment_ids = {c["id"] for c in comments}
        for name in names:
            meta = json.loads(stored[f"meta/{REPO}/pr-{PR}/{name}.meta.txt"])
            data = stored[f"{REPO}/pr-{PR}/{name}"]
            assert meta["payload"]["sha256sum"] == hashlib.sha256(data).hexdigest()
            assert meta["payload"]["size"] == str(len(data))
            assert meta["payload"]["url"] == f"{s3_env.endpoint}/{s3_bucket}/{REPO}/pr-{PR}/{name}"
            assert int(meta["link2pr"]["pr_comment_id"]) in job_comment_ids
            assert meta["eessi_bot"]["approved_by"] == "maintainer"
        wait_for(lambda: uploaded_rows(github) == 2, timeout=20)
        assert any("approved by `maintainer`" in c["body"] for c in bot_comments(github))
    finally:
        bot.cancel_local_jobs()
        bot.stop()


def test_s3_down_then_a_crash_mid_upload_each_object_once(tmp_path: Path, github: FakeGitHub, upstream: Upstream,
                                                          private_s3: PrivateS3) -> None:
    server = private_s3.server
    server.client().create_bucket(Bucket="staging")
    bot = deploying_bot(tmp_path, github, upstream, server, "staging", megabytes=400)
    try:
        build_and_finish(bot, github, "x86_64/amd/zen2", 1)
        private_s3.stop()
        assert label(bot, "maintainer") < 0.05, "acknowledged in milliseconds with S3 down"
        wait_for(lambda: "object store is unreachable" in bot.log.read_text(), timeout=30)
        private_s3.start()

        def uploading() -> bool:
            return bool(server.client().list_multipart_uploads(Bucket="staging").get("Uploads"))

        wait_for(uploading, timeout=45, interval=0.01)
        bot.kill()
        assert not any(k.endswith(".tar.gz") for k in objects(server, "staging")), "killed before it completed"
        bot.start()
        stored = wait_for(lambda: stored_objects(server, "staging", 2), timeout=90)
        (key,) = [k for k in stored if k.endswith(".tar.gz")]
        name = key.rsplit("/", 1)[1]
        built = next(Path(tmp_path / "site" / "jobs").rglob(name)).read_bytes()
        assert hashlib.sha256(stored[key]).digest() == hashlib.sha256(built).digest()
        wait_for(bot.idle, timeout=30)
        assert uploaded_rows(github) == 1, "one row, one upload"
        assert len([c for c in bot_comments(github) if "Deploy on instance" in c["body"]]) == 1
    finally:
        bot.cancel_local_jobs()
        bot.stop()

