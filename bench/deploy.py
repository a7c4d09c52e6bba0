"""`bot:deploy` of 20 artefacts of 50 MiB: the bot's deployer vs `aws s3 cp` per file (the EESSI bot's way).

The bot: 20 finished, successful jobs of one PR are saved through the store (SQLite, as `serve` keeps
them), each job directory holding its artefact (random bytes written by `head -c`, so this process never
holds them); `DeployService.label_on` records the `bot:deploy` label and the real deployer thread of a
`Runtime` uploads with the real `S3ObjectStore` to a real S3 (SeaweedFS from `scripts/s3-up.sh`). Timed
from the label until every upload is `uploaded` in the database (the deployer compared each object with
its file) and this bench has read every object's size and `sha256` metadata back with HEAD. Peak memory
of this process during the deploy: `VmHWM` of /proc/self/status after resetting it at the label
(`echo 5 > /proc/self/clear_refs`), checked against a thread that samples `VmRSS` every 5 ms.

The baseline: what `scripts/eessi-upload-to-staging` does per artefact, one file after the other as the
EESSI bot's deploy loop calls it: `sha256sum` of the file, its `.meta.txt` written, then one
`aws s3 cp` process for the artefact and one for the metadata, to the same server and bucket (another
prefix). Its peak memory is the largest `aws` process's peak RSS (its VmHWM, read every 5 ms while it
runs: the whole process, interpreter included, as a site would see it). Without `aws` (pip install awscli) only the
bot's figures are shown.

    eval "$(scripts/s3-up.sh)"
    .venv/bin/python bench/deploy.py [--count 20] [--size-mb 50] [--endpoint URL]

Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the endpoint from
`--endpoint` or EESSI_BOT_S3_ENDPOINT. A bucket of its own is made and removed with its objects.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from botocore.config import Config as BotoConfig
from tests.fakes.site import write_site

from eessi_bot.adapters.config_files import load_config
from eessi_bot.adapters.memory_github import MemoryGitHub
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import Runtime
from eessi_bot.core.jobs import Job, JobState, Row
from eessi_bot.core.uploads import UploadState
from eessi_bot.ports.object_store import SHA256_METADATA

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

REPO = "eessi/software-layer"
PR = 7
MIB = 1024 * 1024
ENDPOINT_ENV = "EESSI_BOT_S3_ENDPOINT"
TIMEOUT = 900.0

DEPLOYCFG = """
[deploycfg]
upload_policy = all
deploy_permission = maintainer
endpoint_url = {endpoint}
bucket_name = {bucket}
artefact_prefix = bot/${{github_repository}}/pr-${{pull_request_number}}
metadata_prefix = bot/meta/${{github_repository}}/pr-${{pull_request_number}}
"""


@dataclass(frozen=True)
class Artefact:
    job_dir: Path
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Figures:
    files: int
    total_bytes: int
    seconds: float
    peak_rss_kib: int
    note: str


def make_artefacts(root: Path, count: int, size: int) -> List[Artefact]:
    """`count` job directories with one tarball-named file of random bytes each, written by `head -c`;
    their SHA-256 read in 1 MiB chunks (before any measurement)."""
    made = []
    for number in range(count):
        job_dir = root / "jobs" / f"pr_{PR}" / f"job{number + 1}"
        job_dir.mkdir(parents=True)
        name = f"eessi-2023.06-software-linux-x86_64-amd-zen2-{1700000000 + number}.tar.gz"
        with (job_dir / name).open("wb") as out:
            subprocess.run(["head", "-c", str(size), "/dev/urandom"], stdout=out, check=True)
        digest = hashlib.sha256()
        with (job_dir / name).open("rb") as data:
            while chunk := data.read(MIB):
                digest.update(chunk)
        made.append(Artefact(job_dir, name, size, digest.hexdigest()))
    return made


def finished_job(number: int, artefact: Artefact) -> Job:
    """A job of the PR as the job manager leaves it: finished, SUCCESS, its artefact named."""
    return Job(key=f"bench:{number}", build_key="bench", repo=REPO, pr_number=PR, node_type="cpu_zen2",
               repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
               on_arch="amd-zen2", on_accelerator=None, job_dir=str(artefact.job_dir), backend="local",
               comment_key=f"job:bench:{number}", state=JobState.FINISHED, job_id=str(number),
               rows=(Row("d", "submitted", "x"), Row("d", "finished", "SUCCESS")), end_state="COMPLETED",
               exit_code="0:0", result_status="SUCCESS", test_status="SUCCESS", artefacts=(artefact.name,))


class MemoryWatch:
    """This process's peak resident memory from `start` on: VmHWM after a reset through
    /proc/self/clear_refs (exact, but needs Linux >= 4.0), and the largest VmRSS a thread saw."""

    def __init__(self) -> None:
        self.sampled_kib = 0
        self.reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    @staticmethod
    def status_kib(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/self/status")

    def start(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.sampled_kib = self.status_kib("VmRSS")
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.sampled_kib = max(self.sampled_kib, self.status_kib("VmRSS"))

    def stop(self) -> int:
        """The peak in KiB: VmHWM when it could be reset, else the sampled maximum."""
        self._stop.set()
        self._thread.join()
        return max(self.status_kib("VmHWM"), self.sampled_kib) if self.reset else self.sampled_kib


def client(endpoint: str) -> S3Client:
    return boto3.client("s3", endpoint_url=endpoint, config=BotoConfig(s3={"addressing_style": "path"}))


def check_objects(s3: S3Client, bucket: str, keys: Dict[str, Artefact], with_sha256: bool) -> None:
    """Every object is there with the file's size (and, for the bot's, its `sha256` metadata)."""
    for key, artefact in keys.items():
        answer = s3.head_object(Bucket=bucket, Key=key)
        if answer["ContentLength"] != artefact.size:
            raise SystemExit(f"{bucket}/{key}: {answer['ContentLength']} bytes, the file has {artefact.size}")
        if with_sha256 and answer.get("Metadata", {}).get(SHA256_METADATA) != artefact.sha256:
            raise SystemExit(f"{bucket}/{key}: sha256 metadata {answer.get('Metadata')} is not the file's")


def bot_deploy(root: Path, endpoint: str, bucket: str, artefacts: List[Artefact], s3: S3Client) -> Figures:
    config, problems = load_config(write_site(root / "site", extra=DEPLOYCFG.format(endpoint=endpoint, bucket=bucket)),
                                   {"HOME": str(root)})
    if config is None:
        raise SystemExit("\n".join(p.render() for p in problems))
    runtime = Runtime(config, MemoryGitHub(app_id=config.github.app_id, slug=config.instance), SystemClock())
    stop = threading.Event()
    deployer = threading.Thread(target=runtime.deployer.run, args=(stop,), name="deployer", daemon=True)
    try:
        now = time.time()
        with runtime.store.transaction() as tx:
            for number, artefact in enumerate(artefacts, 1):
                tx.save_job(finished_job(number, artefact), now)
        deployer.start()
        watch = MemoryWatch()
        watch.start()
        before_kib = watch.sampled_kib
        started = time.perf_counter()
        runtime.deploys.label_on(REPO, PR, "maintainer", "bench-label")
        deadline = time.monotonic() + TIMEOUT
        while True:
            states = [u.state for u in runtime.store.uploads.for_pr(REPO, PR)]
            if len(states) == len(artefacts) and all(s is UploadState.UPLOADED for s in states):
                break
            if UploadState.NOT_UPLOADED in states or time.monotonic() > deadline:
                found = [(u.artefact, u.state.value, u.reason) for u in runtime.store.uploads.for_pr(REPO, PR)]
                raise SystemExit(f"the deploy did not succeed: {found}")
            runtime.writes_waiting.wait(0.02)
        prefix = f"bot/{REPO}/pr-{PR}"
        check_objects(s3, bucket, {f"{prefix}/{a.name}": a for a in artefacts}, with_sha256=True)
        seconds = time.perf_counter() - started
        peak_kib = watch.stop()
    finally:
        stop.set()
        runtime.uploads_waiting.notify()
        deployer.join(30)
        runtime.db.close()
    how = "VmHWM reset at the label" if watch.reset else "VmRSS sampled every 5 ms"
    note = (f"this process: {before_kib / 1024:.0f} MiB before the label, peak {peak_kib / 1024:.0f} MiB "
            f"(+{(peak_kib - before_kib) / 1024:.0f} MiB; {how}); verified: deployer + HEAD size/sha256")
    return Figures(len(artefacts), sum(a.size for a in artefacts), seconds, peak_kib, note)


def aws_binary() -> Optional[str]:
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def run_measured(argv: List[str]) -> int:
    """Run `argv` to its end; its peak RSS in KiB: its VmHWM, read every 5 ms while it runs (wait4's
    ru_maxrss would report this bench's own peak: Linux keeps the larger of the two across exec).
    SystemExit when it fails."""
    peak = 0
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                lines = status.read_text().splitlines()
            except OSError:  # it ended meanwhile
                continue
            peak = max([peak, *(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))])
            time.sleep(0.005)
        if proc.returncode != 0:
            output.seek(0)
            raise SystemExit(f"{argv[0]} {' '.join(argv[1:4])} ... failed ({proc.returncode}): "
                             f"{output.read().decode(errors='replace')[-2000:]}")
    return peak


def aws_deploy(aws: str, root: Path, endpoint: str, bucket: str, artefacts: List[Artefact],
               s3: S3Client) -> Figures:
    """The EESSI upload script's steps per artefact, one artefact after the other."""
    meta_dir = root / "aws-meta"
    meta_dir.mkdir()
    cp = [aws, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", "--no-progress"]
    prefix, meta_prefix = f"aws/{REPO}/pr-{PR}", f"aws/meta/{REPO}/pr-{PR}"
    peak_kib = 0
    started = time.perf_counter()
    for artefact in artefacts:
        path = artefact.job_dir / artefact.name
        sha256 = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True,
                                check=True).stdout.split()[0]
        meta = meta_dir / f"{artefact.name}.meta.txt"
        meta.write_text(json.dumps({
            "uploader": {"username": "bench", "ip": "127.0.0.1", "hostname": "localhost"},
            "payload": {"filename": artefact.name, "size": str(artefact.size), "ctime": "",
                        "sha256sum": sha256, "url": f"{endpoint}/{bucket}/{prefix}/{artefact.name}"},
            "link2pr": {"repo": REPO, "pr": str(PR), "pr_comment_id": "-1"}}, indent=2))
        peak_kib = max(peak_kib, run_measured([*cp, str(path), f"s3://{bucket}/{prefix}/{artefact.name}"]))
        peak_kib = max(peak_kib, run_measured([*cp, str(meta), f"s3://{bucket}/{meta_prefix}/{meta.name}"]))
    check_objects(s3, bucket, {f"{prefix}/{a.name}": a for a in artefacts}, with_sha256=False)
    seconds = time.perf_counter() - started
    note = (f"{2 * len(artefacts)} aws processes, one after the other; peak = the largest one's; "
            "verified: HEAD size only (the script checks nothing)")
    return Figures(len(artefacts), sum(a.size for a in artefacts), seconds, peak_kib, note)


def drop_bucket(s3: S3Client, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def main() -> None:
    parser = argparse.ArgumentParser(description="bot:deploy of N artefacts: the bot's deployer vs aws s3 cp per file")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=50, help="MiB per artefact")
    parser.add_argument("--endpoint", default=os.environ.get(ENDPOINT_ENV, ""),
                        help=f"S3 endpoint (default: ${ENDPOINT_ENV})")
    args = parser.parse_args()
    if not args.endpoint:
        raise SystemExit(f"no S3 endpoint: pass --endpoint or run eval \"$(scripts/s3-up.sh)\" ({ENDPOINT_ENV})")
    aws = aws_binary()
    s3 = client(args.endpoint)
    bucket = f"bench-deploy-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
            root = Path(tmp)
            made = time.perf_counter()
            artefacts = make_artefacts(root, args.count, args.size_mb * MIB)
            print(f"{args.count} artefacts of {args.size_mb} MiB made in {time.perf_counter() - made:.1f} s; "
                  f"S3: {args.endpoint}, bucket {bucket}")
            results = {"eessi-bot deployer": bot_deploy(root, args.endpoint, bucket, artefacts, s3)}
            if aws is None:
                print("no `aws` command (pip install awscli): the EESSI bot's way is not measured")
            else:
                results["aws s3 cp per file"] = aws_deploy(aws, root, args.endpoint, bucket, artefacts, s3)
    finally:
        drop_bucket(s3, bucket)
    print(f"\n{'':>20} | {'files':>5} | {'total MiB':>9} | {'seconds':>7} | {'MiB/s':>6} | {'peak RSS MiB':>12}")
    for name, fig in results.items():
        mib = fig.total_bytes / MIB
        print(f"{name:>20} | {fig.files:>5} | {mib:>9.0f} | {fig.seconds:>7.2f} | {mib / fig.seconds:>6.0f} | "
              f"{fig.peak_rss_kib / 1024:>12.0f}")
    for name, fig in results.items():
        print(f"{name}: {fig.note}")


if __name__ == "__main__":
    main()
