"""`upload_method = script`: the site's `artefact_upload_script` gets the EESSI options as separate
arguments (never a shell), a minimal environment with the AWS credentials only, and its failure is
reported; odd names and links never reach it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

from eessi_bot.adapters.process import ProcessRunner
from eessi_bot.core.uploads import UploadState
from eessi_bot.deploy.deployer import Deployer
from eessi_bot.deploy.script_transfer import ScriptTransfer
from tests.fakes.job_site import PR, REPO, JobSite
from tests.unit.test_deploy_flow import ZEN4, built, label

SCRIPT = """#!/usr/bin/env python3
# records its arguments and environment, as a stand-in for EESSI's eessi-upload-to-staging
import json, os, sys
with open(os.path.join(os.environ["HOME"], f"call-{os.getpid()}.json"), "w") as out:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, out)
sys.exit({code})
"""


def script_site(tmp_path: Path, code: int = 0, signing: str = "") -> JobSite:
    script = tmp_path / "eessi-upload-to-staging"
    script.write_text(SCRIPT.replace("{code}", str(code)))
    script.chmod(0o755)
    extra = (f"\n[deploycfg]\nupload_policy = all\ndeploy_permission = maintainer\nbucket_name = eessi-staging\n"
             f"upload_method = script\nartefact_upload_script = {script}\n"
             "artefact_prefix = ${github_repository}/${pull_request_number}\n" + signing)
    site = JobSite(tmp_path, extra=extra, buildenv_extra="local_max_jobs = 8")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AKIA-TEST",
                   "AWS_SECRET_ACCESS_KEY": "s3cr3t", "GITHUB_APP_SECRET_TOKEN": "webhook-secret",
                   "AWS_ENDPOINT_URL": "http://elsewhere.invalid"}
    site.deployer = Deployer(site.config, site.store, ScriptTransfer(site.config, ProcessRunner(), environment),
                             site.clock, site.uploads_waiting, site.writes_waiting)
    return site


def calls(root: Path) -> list:
    return [json.loads(p.read_text()) for p in sorted(root.glob("call-*.json"))]


def test_the_script_gets_the_eessi_options_as_arguments(tmp_path: Path) -> None:
    site = script_site(tmp_path)
    name = ZEN4.format(ts=1700000020)
    job = built(site, name, "x.tar.gz; touch PWNED")
    label(site)
    site.deployer.cycle()
    (call,) = calls(tmp_path)
    options: Dict[str, Any] = dict(zip(call["argv"][:-1:2], call["argv"][1:-1:2]))
    assert options == {"--artefact-prefix": "${github_repository}/${pull_request_number}",
                       "--bucket-name": "eessi-staging", "--pr-comment-id": "-1", "--pull-request-number": str(PR),
                       "--repository": REPO, "--bot-instance": "test-bot"}
    assert call["argv"][-1] == str(Path(job.job_dir) / name)
    assert call["env"]["AWS_ACCESS_KEY_ID"] == "AKIA-TEST"
    assert "GITHUB_APP_SECRET_TOKEN" not in call["env"] and "AWS_ENDPOINT_URL" not in call["env"]
    states = {u.artefact: u.state for u in site.store.uploads.for_pr(REPO, PR)}
    assert states == {name: UploadState.UPLOADED, "x.tar.gz; touch PWNED": UploadState.NOT_UPLOADED}
    assert not list(tmp_path.rglob("PWNED"))


def test_a_failing_script_is_reported(tmp_path: Path) -> None:
    site = script_site(tmp_path, code=3)
    built(site, ZEN4.format(ts=1700000021))
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    assert upload.state is UploadState.NOT_UPLOADED and "exited with 3" in (upload.reason or "")


@pytest.mark.parametrize(("script", "passed"), [("/opt/eessi/sign_verify_file_ssh.sh", True),
                                                ("scripts/sign_verify_file_ssh.sh", False)],
                         ids=["absolute", "relative-from-the-pr"])
def test_signing_script_must_not_come_from_the_pr(tmp_path: Path, script: str, passed: bool) -> None:
    key = tmp_path / "sign.key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signing = f'signing = {{"eessi.io-2023.06-software": {{"key": "{key}", "script": "{script}"}}}}\n'
    site = script_site(tmp_path, signing=signing)
    built(site, ZEN4.format(ts=1700000022))
    label(site)
    site.deployer.cycle()
    (upload,) = site.store.uploads.for_pr(REPO, PR)
    if passed:
        (call,) = calls(tmp_path)
        assert call["argv"][-5:-1] == ["--sign-key", str(key), "--sign-script", script]
    else:
        assert calls(tmp_path) == [] and "absolute path" in (upload.reason or "")
