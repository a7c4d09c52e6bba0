"""One artefact into the bucket: the file, its metadata and, with signing, both signatures, each
object put only if the bucket does not hold it already (a resumed upload puts nothing twice), the
metadata last (ingestion starts from it), and the artefact verified before it counts as uploaded."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from eessi_bot.core.config import Config
from eessi_bot.core.deploy.metadata import BotFacts, Payload, PrLink, Uploader, ctime_text, render_metadata
from eessi_bot.core.deploy.naming import NamingError, Placement, place
from eessi_bot.core.jobs import Job
from eessi_bot.core.uploads import Upload, UploadState
from eessi_bot.deploy.artefact_file import ArtefactFile, ArtefactRefused, inspect
from eessi_bot.ports.object_store import ObjectStore, StoreRefused
from eessi_bot.ports.signer import Signer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What the metadata needs beyond the upload: the job, its PR comment, the commits built."""

    job: Job
    pr_comment_id: int
    base_sha: str
    head_sha: str


class ArtefactTransfer(Protocol):
    """How one artefact gets into the bucket: the bot itself (`Transfer`) or the site's script
    (`deploy/script_transfer.py`)."""

    def run(self, upload: Upload, context: Context) -> Upload: ...


class Transfer:
    def __init__(self, config: Config, objects: ObjectStore, signer: Signer, uploader: Uploader) -> None:
        self.config = config
        self.objects = objects
        self.signer = signer
        self.uploader = uploader

    def run(self, upload: Upload, context: Context) -> Upload:
        """The upload, done. Raises ArtefactRefused, StoreRefused, SigningError (the PR is told) or
        StoreUnavailable (tried again later)."""
        artefact = inspect(Path(context.job.job_dir), upload.artefact)
        try:
            where = place(self.config.deploy, upload.repo, upload.pr_number, upload.repo_id, upload.artefact)
        except NamingError as exc:
            raise ArtefactRefused(str(exc)) from exc
        keys = where.keys
        sign_key = Path(where.signing["key"]) if where.signing else None
        namespace = self.config.instance
        if sign_key is not None and keys.artefact_sig is not None:
            self._put_bytes(where.bucket, keys.artefact_sig, self.signer.sign_file(sign_key, namespace, artefact.path))
        self._put_file(where.bucket, keys.artefact, artefact)
        metadata = self._metadata(upload, context, artefact, where)
        if sign_key is not None and keys.metadata_sig is not None:
            self._put_bytes(where.bucket, keys.metadata_sig, self.signer.sign_bytes(sign_key, namespace, metadata))
        self._put_bytes(where.bucket, keys.metadata, metadata)
        found = self.objects.head(where.bucket, keys.artefact)
        if found is None or found.size != artefact.size or found.sha256 != artefact.sha256:
            raise StoreRefused(f"{keys.artefact} in bucket {where.bucket} does not match the file after the upload")
        return replace(upload, state=UploadState.UPLOADED, reason=None, bucket=where.bucket, object_key=keys.artefact,
                       metadata_key=keys.metadata, sha256=artefact.sha256, size=artefact.size)

    def _metadata(self, upload: Upload, context: Context, artefact: ArtefactFile, where: Placement) -> bytes:
        job = context.job
        payload = Payload(filename=upload.artefact, size=artefact.size, ctime=ctime_text(artefact.mtime),
                          sha256sum=artefact.sha256, url=where.url)
        link = PrLink(repo=upload.repo, pr=upload.pr_number, pr_comment_id=context.pr_comment_id)
        bot = BotFacts(base_sha=context.base_sha, head_sha=context.head_sha, job_id=job.job_id or "",
                       node_type=job.node_type, instance=self.config.instance, approved_by=upload.approved_by,
                       repo_id=upload.repo_id, policy=self.config.deploy.upload_policy,
                       software_subdir=job.software_subdir, accelerator=job.accelerator)
        return render_metadata(self.uploader, payload, link, bot)

    def _put_file(self, bucket: str, key: str, artefact: ArtefactFile) -> None:
        found = self.objects.head(bucket, key)
        if found is not None and found.sha256 == artefact.sha256 and found.size == artefact.size:
            log.info("%s/%s is there already (resumed upload)", bucket, key)
            return
        self.objects.put_file(bucket, key, artefact.path, artefact.sha256)

    def _put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        sha256 = hashlib.sha256(data).hexdigest()
        found = self.objects.head(bucket, key)
        if found is not None and found.sha256 == sha256:
            return
        self.objects.put_bytes(bucket, key, data, sha256)
