"""`upload_method = script`: the site's own `artefact_upload_script` uploads each artefact, called
with the EESSI bot's options (reference §7.4) as an argument list, never through a shell.

The bot still decides what to upload, refuses links and odd names, and reports; the script does the
transfer (and signs with the `signing` entry's absolute `script` and `key`). Unlike the EESSI bot it
runs no container and never takes a signing script from the PR's checkout (a relative path was
resolved inside the job directory). The script gets a minimal environment plus the AWS credential
variables, never the bot's GitHub secrets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Mapping

from eessi_bot.core.config import Config
from eessi_bot.core.deploy.naming import NamingError, bucket_for, place, prefix_for, signing_for
from eessi_bot.core.uploads import Upload, UploadState
from eessi_bot.deploy.artefact_file import ArtefactRefused, inspect
from eessi_bot.deploy.transfer import Context
from eessi_bot.ports.commands import CommandRunner, CommandTimedOut
from eessi_bot.ports.object_store import StoreRefused, StoreUnavailable

TIMEOUT = 6 * 3600.0
"""Seconds a script may take for one artefact (multi-GB uploads on a slow link)."""
PASSED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
          "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_REGION",
          "AWS_REGION", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
"""What the script sees of the bot's environment (`AWS_ENDPOINT_URL` not: `--endpoint-url` decides)."""


class ScriptTransfer:
    def __init__(self, config: Config, runner: CommandRunner, environment: Mapping[str, str]) -> None:
        assert config.deploy.upload_script is not None, "upload_method = script needs artefact_upload_script"
        self.config = config
        self.script = config.deploy.upload_script
        self.runner = runner
        self.environment = {name: environment[name] for name in PASSED if environment.get(name)}

    def run(self, upload: Upload, context: Context) -> Upload:
        """The upload, done by the script. Raises ArtefactRefused or StoreRefused (the PR is told:
        the script failed, with the end of its output) or StoreUnavailable (it ran out of time)."""
        job_dir = Path(context.job.job_dir)
        artefact = inspect(job_dir, upload.artefact)
        try:
            where = place(self.config.deploy, upload.repo, upload.pr_number, upload.repo_id, upload.artefact)
        except NamingError as exc:
            raise ArtefactRefused(str(exc)) from exc
        argv = self.argv(upload, context, artefact.path)
        try:
            result = self.runner.run(argv, self.environment, TIMEOUT, cwd=job_dir)
        except CommandTimedOut as exc:
            raise StoreUnavailable(str(exc)) from exc
        except OSError as exc:
            raise StoreRefused(f"cannot run {self.script}: {exc.strerror or exc}") from exc
        if result.returncode != 0:
            tail = " ".join(result.output.split())[-300:]
            raise StoreRefused(f"{self.script.name} exited with {result.returncode}: {tail}")
        return replace(upload, state=UploadState.UPLOADED, reason=None, bucket=where.bucket,
                       object_key=where.keys.artefact, metadata_key=where.keys.metadata, sha256=artefact.sha256,
                       size=artefact.size)

    def argv(self, upload: Upload, context: Context, path: Path) -> List[str]:
        """The EESSI upload script's options, each value its own argument."""
        deploy = self.config.deploy
        options: Dict[str, str] = {}
        for option, value in (("--artefact-prefix", prefix_for(deploy.artefact_prefix, upload.repo_id)),
                              ("--bucket-name", bucket_for(deploy.bucket_name, upload.repo_id)),
                              ("--endpoint-url", deploy.endpoint_url),
                              ("--metadata-prefix", prefix_for(deploy.metadata_prefix, upload.repo_id))):
            if value:
                options[option] = value
        options.update({"--pr-comment-id": str(context.pr_comment_id), "--pull-request-number": str(upload.pr_number),
                        "--repository": upload.repo, "--bot-instance": self.config.instance})
        signing = signing_for(deploy, upload.repo_id)
        if signing is not None:
            script = signing.get("script", "")
            if not script or not Path(script).is_absolute():
                raise ArtefactRefused(f"the signing script of {upload.repo_id} must be an absolute path "
                                      "(a relative one would come from the PR's checkout)")
            options.update({"--sign-key": signing["key"], "--sign-script": script})
        return [str(self.script), *(part for pair in options.items() for part in pair), str(path)]
