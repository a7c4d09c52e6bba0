"""`eessi-bot demo`: the bot's main job on embedded defaults, with no GitHub and no network.

An example target repository (shipped with the package: `bot/*.sh` and an easystack file) gets a
PR; `bot: build` on it runs through the real pipeline on the local backend: the PR is fetched into a
mirror, a job directory is prepared, the job is submitted held, released, runs the repository's
scripts, and its result is reported. When a SeaweedFS `weed` is there (`demo_s3.py`), a maintainer
then adds the `bot:deploy` label and the deployer uploads the job's artefact and its metadata into a
bucket of a private S3 server; the objects in the bucket are listed. Then `bot: status`. Progress and
the comments the bot would post are printed. Everything lives in a temporary directory, removed at the
end unless `--keep` is given (its job directories, database and S3 data are then kept for a look).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Optional, TextIO, Tuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.cli.demo_s3 import HOW_TO_GET_WEED, DemoS3, S3NotStarted, weed_binary
from eessi_bot.cli.local_run import IDENTITY, LocalRun, git
from eessi_bot.core.effects import marker
from eessi_bot.core.uploads import UploadState
from eessi_bot.ports.github import PullRequest

REPO = "example/software-layer"
PR_NUMBER = 1
COMMANDS = ("bot: help", "bot: build for:arch=x86_64/amd/zen2", "bot: status")
TIMEOUT = 120.0
DEPLOY_LABEL = "bot:deploy"
DEPLOY_TIMEOUT = 60.0

APP_CFG = """\
[github]
app_id = 1
app_name = demo-bot
installation_id = 1
private_key = {root}/app.pem
webhook_secret = demo-secret

[bot]
data_dir = {root}/state

[bot_control]
command_permission = maintainer
chatlevel = basic

[buildenv]
jobs_base_dir = {root}/jobs
job_backend = local
build_permission = maintainer
local_tmp = {root}/tmp/$USER

[architecturetargets]
node_type_map = {{
    "cpu_zen2": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                  "repo_targets": ["eessi.io-2023.06-software"]}},
    "cpu_zen4": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4",
                  "repo_targets": ["eessi.io-2023.06-software"]}}}}

[repo_targets]
repos_cfg_dir = {root}/repos

[job_manager]
poll_interval = 1
"""

DEPLOYCFG = """
[deploycfg]
upload_policy = latest
deploy_permission = maintainer
endpoint_url = {endpoint}
bucket_name = {bucket}
"""
"""Empty prefixes: objects go to EESSI's legacy path (`2023.06/software/linux/x86_64/amd/zen2/<time>/`)."""

REPOS_CFG = """\
[eessi.io-2023.06-software]
repo_name = software.eessi.io
repo_version = 2023.06
container = docker://ghcr.io/eessi/build-node:debian12
"""


def write_demo_config(root: Path, extra: str = "") -> Path:
    """The demo's app.cfg (also `try`'s default), with `extra` sections appended."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = root / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    (root / "repos").mkdir()
    (root / "repos" / "repos.cfg").write_text(REPOS_CFG, encoding="utf-8")
    cfg = root / "app.cfg"
    cfg.write_text(APP_CFG.format(root=root) + extra, encoding="utf-8")
    return cfg


def make_example_repository(root: Path) -> PullRequest:
    """The shipped example repository, with a PR (branch and refs/pull/1/head) that adds a package."""
    repo = root / "software-layer"
    shutil.copytree(Path(str(resources.files("eessi_bot") / "data" / "demo-repo")), repo)
    for script in (repo / "bot").iterdir():
        script.chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "example software layer", env=IDENTITY)
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "add-gcc")
    with (repo / "easystack.yml").open("a", encoding="utf-8") as easystack:
        easystack.write("  - GCC-13.2.0.eb\n")
    git(repo, "commit", "-q", "-am", "add GCC 13.2.0", env=IDENTITY)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-ref", f"refs/pull/{PR_NUMBER}/head", head)
    git(repo, "checkout", "-q", "main")
    url = f"file://{repo}"
    return PullRequest(repo=REPO, number=PR_NUMBER, state="open", base_ref="main", base_sha=base, head_sha=head,
                       clone_url=url, ssh_url=url, html_url=f"https://github.com/{REPO}/pull/{PR_NUMBER}")


def start_s3(root: Path) -> Tuple[Optional[DemoS3], str]:
    """A private S3 server, started (it gets ready while the job builds), or None without a usable
    `weed`; and a line that says which."""
    weed = weed_binary()
    if weed is None:
        return None, f"demo: no SeaweedFS `weed` found, so the deploy part is skipped (get it: {HOW_TO_GET_WEED})"
    server = DemoS3(weed, root / "s3")
    try:
        server.start()
    except OSError as exc:
        return None, f"demo: {weed} cannot be started ({exc.strerror}), so the deploy part is skipped"
    return server, f"demo: deploys go to a private S3 server ({weed} mini) on {server.endpoint}"


def deploy(local: LocalRun, server: DemoS3, out: TextIO) -> bool:
    """A maintainer adds `bot:deploy`; the deployer uploads; the bucket's objects are listed. False
    when the deploy failed; a server that did not start only skips it (the fault is not the bot's)."""
    out.write(f"\ndemo: a maintainer adds the label {DEPLOY_LABEL}; bucket {server.bucket} on {server.endpoint}\n")
    try:
        server.ready()
    except S3NotStarted as exc:
        out.write(f"demo: the S3 server did not start, so the deploy part is skipped: {exc}\n")
        return True
    local.label(DEPLOY_LABEL)
    uploads = local.follow_deploy(DEPLOY_TIMEOUT)
    markers = {marker(key) for key in {u.deploy_key for u in uploads}}
    for body in local.github.bodies(REPO, PR_NUMBER):
        if any(m in body for m in markers):
            out.write(f"  deploy summary comment: {body.splitlines()[0]}\n")
    objects = server.objects()
    out.write(f"demo: {len(objects)} object(s) in bucket {server.bucket}:\n")
    for key, size in objects:
        out.write(f"  {key} ({size} bytes)\n")
    done = bool(uploads) and all(u.state is UploadState.UPLOADED for u in uploads)
    if not done:
        states = ", ".join(f"{u.artefact}: {u.state.value} {u.reason or ''}".strip() for u in uploads)
        out.write(f"demo: the deploy did not succeed ({states or 'nothing to deploy'})\n")
    return done


def run(out: TextIO, keep: bool = False) -> int:
    """The demo in a directory of its own. Its last line says where that directory is (`keep`) or that
    it was removed, so the job directory named in the job's comment is never left pointing nowhere."""
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(line_buffering=True)  # progress as it happens, into a pipe or a log too
    root = Path(tempfile.mkdtemp(prefix="eessi-bot-demo-"))
    try:
        server, note = start_s3(root)
        try:
            return run_with(root, server, note, out)
        finally:
            if server is not None:
                server.stop()
    finally:
        out.write(kept(root) if keep else remove(root))


def kept(root: Path) -> str:
    """What `--keep` kept, for a look afterwards (the S3 server is stopped; its data stays)."""
    jobs = sorted((root / "jobs").glob(f"*/{REPO}/pr_{PR_NUMBER}/[0-9]*"))
    parts = [("app.cfg", root / "app.cfg"), *(("job directory", link) for link in jobs),
             ("database", root / "state" / "eessi-bot.sqlite3"), ("S3 data", root / "s3" / "data")]
    lines = "".join(f"  {label + ':':15}{path}\n" for label, path in parts if path.exists())
    return (f"demo: kept its directory {root} (remove it with `rm -rf {root}`):\n{lines}"
            f"  its jobs:      eessi-bot jobs --config {root / 'app.cfg'}\n")


def remove(root: Path) -> str:
    """Remove the demo's directory, read-only directories a job left included (links are not followed)."""
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = Path(directory, name)
            if not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.chmod(0o700)
    what = "job directories, database, S3 data" if (root / "s3").exists() else "job directories, database"
    try:
        shutil.rmtree(root)
    except OSError as exc:
        return f"demo: could not remove its directory {root} ({exc}); remove it by hand\n"
    return f"demo: removed its directory {root} ({what}); `eessi-bot demo --keep` keeps it\n"


def run_with(root: Path, server: Optional[DemoS3], s3_note: str, out: TextIO) -> int:
    extra = DEPLOYCFG.format(endpoint=server.endpoint, bucket=server.bucket) if server is not None else ""
    config, _ = load_config_or_raise(write_demo_config(root, extra), env={"HOME": str(root), "USER": "demo"})
    pull = make_example_repository(root)
    out.write(f"demo: instance {config.instance}, local backend, state and jobs in {root}\n{s3_note}\n"
              f"demo: {REPO}#{PR_NUMBER} adds GCC-13.2.0 to easystack.yml\n\n")
    with server.bot_credentials() if server is not None else contextlib.nullcontext():
        local = LocalRun(config, out, REPO, pull)
        finished, deployed = False, True
        try:
            local.command(COMMANDS[0])
            local.command(COMMANDS[1])
            finished = local.follow(TIMEOUT)
            if finished and server is not None:
                deployed = deploy(local, server, out)
            local.command(COMMANDS[2])
            local.show_comments()
        finally:
            if not finished:
                local.cancel_unfinished()
            local.close()
    if not finished:
        out.write(f"\ndemo: the job did not finish within {TIMEOUT:.0f} s\n")
        return 1
    if not deployed:
        return 1
    out.write("\ndemo: done\n")
    return 0
