"""A signed deploy into a real S3 (SeaweedFS) with the real ssh-keygen: the `.sig` objects verify
with `ssh-keygen -Y verify` as the ingestion side runs it, and the key is in no object."""

from __future__ import annotations

import subprocess
from pathlib import Path

from eessi_bot.adapters.s3 import S3ObjectStore
from eessi_bot.adapters.ssh_signer import SshSigner
from eessi_bot.deploy.deployer import Deployer
from eessi_bot.deploy.transfer import Transfer
from tests.fakes.job_site import PR, REPO, UPLOADER, JobSite
from tests.s3 import S3Server
from tests.unit.test_deploy_flow import ZEN4, built, label


def test_signed_objects_verify_and_hold_no_key(tmp_path: Path, s3_env: S3Server, s3_bucket: str) -> None:
    key = tmp_path / "keys" / "bot.key"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bot@site", "-f", str(key)], check=True)
    extra = (f"\n[deploycfg]\nupload_policy = all\ndeploy_permission = maintainer\nbucket_name = {s3_bucket}\n"
             f"endpoint_url = {s3_env.endpoint}\n"
             f'signing = {{"eessi.io-2023.06-software": {{"key": "{key}", "script": "ignored.sh"}}}}\n')
    site = JobSite(tmp_path, extra=extra, buildenv_extra="local_max_jobs = 8")
    site.deployer = Deployer(site.config, site.store,
                             Transfer(site.config, S3ObjectStore(s3_env.endpoint), SshSigner(), UPLOADER),
                             site.clock, site.uploads_waiting, site.writes_waiting)
    name = ZEN4.format(ts=1700000030)
    built(site, name)
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state.value == "uploaded", upload.reason
    client = s3_env.client()
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    prefix = "2023.06/software/linux/x86_64/amd/zen4/1700000030"
    assert keys == [f"{prefix}/{name}", f"{prefix}/{name}.meta.txt", f"{prefix}/{name}.meta.txt.sig",
                    f"{prefix}/{name}.sig"]
    kind, public, _ = key.with_suffix(".key.pub").read_text().split(" ", 2)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"bot@site {kind} {public}\n")
    secret = key.read_text().splitlines()[1]
    for signed in (name, f"{name}.meta.txt"):
        data = client.get_object(Bucket=s3_bucket, Key=f"{prefix}/{signed}")["Body"].read()
        signature = client.get_object(Bucket=s3_bucket, Key=f"{prefix}/{signed}.sig")["Body"].read()
        (tmp_path / "file").write_bytes(data)
        (tmp_path / "file.sig").write_bytes(signature)
        verified = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "bot@site",
                                   "-n", "test-bot", "-s", str(tmp_path / "file.sig")],
                                  input=data, capture_output=True, check=False)
        assert verified.returncode == 0, verified.stderr
        wrong = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "bot@site",
                                "-n", "other-namespace", "-s", str(tmp_path / "file.sig")],
                               input=data, capture_output=True, check=False)
        assert wrong.returncode != 0
        assert secret.encode() not in data and secret.encode() not in signature
