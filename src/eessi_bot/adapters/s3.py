"""The object store port on S3 (AWS or any S3-compatible server) with boto3.

The endpoint is the configuration's (`[deploycfg] endpoint_url`) and nothing else: boto3 would otherwise
take `AWS_ENDPOINT_URL*` from the environment or `~/.aws/config`, and a site's bot would upload somewhere
its app.cfg does not say. Credentials come from boto3's standard chain (environment, shared files,
instance roles), as they did for the EESSI upload script. Files come from job directories whose content
a PR controls, so a file is opened without following a final symbolic link and must be a regular file.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Dict, Iterator, Mapping, NoReturn, Optional

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    UnknownCredentialError,
)
from s3transfer.manager import TransferManager

from eessi_bot.jobs.files import NotReadable, open_regular
from eessi_bot.ports.object_store import SHA256_METADATA, ObjectInfo, StoreRefused, StoreUnavailable

if TYPE_CHECKING:  # the stubs are a test dependency only
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
"""Multipart threshold and part size: big enough for few requests, small enough that a failed part is
cheap to send again; at most `IN_MEMORY_PARTS` of them are read ahead into memory."""
IN_MEMORY_PARTS = 4
CONCURRENCY = 4
MAX_ATTEMPTS = 2
"""boto3's own tries per request: one retry for a dropped connection; the deployer retries with backoff."""

_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRY_LATER_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "RequestTimeout", "ServiceUnavailable", "InternalError",
})
"""Error codes that mean "not now" although some servers send them with a 4xx status."""
_CONFIGURATION_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError,
                         UnknownCredentialError, ParamValidationError)
"""boto3's own refusals before anything is sent: trying again changes nothing."""
_MESSAGE_LIMIT = 200


class S3ObjectStore:
    """`ObjectStore` on S3. One boto3 client, shared by all threads (clients are thread-safe)."""

    def __init__(self, endpoint_url: Optional[str], *, region: Optional[str] = None,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0) -> None:
        """`endpoint_url` None means AWS itself. Contacts nothing; ValueError for a malformed URL."""
        config = Config(  # type: ignore[call-arg]  # botocore-stubs lack ignore_configured_endpoint_urls
            ignore_configured_endpoint_urls=True,
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        session = boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                        max_concurrency=CONCURRENCY, use_threads=True)
        self._transfer.max_in_memory_upload_chunks = IN_MEMORY_PARTS
        self._manager: Optional[TransferManager] = None
        """One transfer manager (its threads) for every upload: a new one per upload left each upload's
        part buffers in fresh malloc arenas, about 200 MiB more resident memory over 20 uploads."""
        self._manager_lock = threading.Lock()

    def _transfers(self) -> TransferManager:
        with self._manager_lock:
            if self._manager is None:
                self._manager = TransferManager(self._client, self._transfer)
            return self._manager

    def put_file(self, bucket: str, key: str, path: Path, sha256: str,
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        """Stream `path` to `bucket/key`: one PUT below PART_SIZE, else a multipart upload; every request
        carries the SHA-256 of its body, which the server checks."""
        extra = {"Metadata": _metadata(sha256, metadata), "ChecksumAlgorithm": "SHA256"}
        with _open_regular(path, bucket, key) as source:
            try:
                self._transfers().upload(source, bucket, key, extra_args=extra).result()
            except (BotoCoreError, ClientError) as exc:
                _raise_for(exc, "upload", bucket, key)
            except OSError as exc:
                raise StoreRefused(f"cannot upload {bucket}/{key}: reading {path} failed: {exc.strerror}") from exc
        log.debug("uploaded %s to %s/%s", path, bucket, key)

    def put_bytes(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        """One PUT with the body's SHA-256 (checked by the server) and the `sha256` metadata."""
        metadata = _metadata(sha256, None)
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumSHA256=checksum, Metadata=metadata)
        except (BotoCoreError, ClientError) as exc:
            _raise_for(exc, "upload", bucket, key)

    def head(self, bucket: str, key: str) -> Optional[ObjectInfo]:
        """Size and `sha256` metadata, or None when there is no such object. A HEAD answer has no body,
        so a missing bucket also gives None here; the upload that follows reports NoSuchBucket."""
        try:
            answer = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            _raise_for(exc, "look up", bucket, key)
        except BotoCoreError as exc:
            _raise_for(exc, "look up", bucket, key)
        return ObjectInfo(size=answer["ContentLength"], sha256=answer.get("Metadata", {}).get(SHA256_METADATA))


def _metadata(sha256: str, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """The object's user metadata: `extra` plus the whole-object SHA-256 (which no caller may override)."""
    if not _HEX_SHA256.match(sha256):
        raise ValueError(f"sha256 must be 64 lower-case hex digits, not {sha256!r}")
    return {**(extra or {}), SHA256_METADATA: sha256}


@contextlib.contextmanager
def _open_regular(path: Path, bucket: str, key: str) -> Iterator[BinaryIO]:
    """`path` opened if it is a regular file (see `jobs.files.open_regular`); StoreRefused otherwise."""
    try:
        with open_regular(path) as source:
            yield source
    except NotReadable as exc:
        raise StoreRefused(f"cannot upload {path} to {bucket}/{key}: {exc}") from exc


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _raise_for(exc: Exception, action: str, bucket: str, key: str) -> NoReturn:
    """Translate a boto3 failure: StoreUnavailable for "not now" (no answer, 5xx, throttling), else
    StoreRefused with a short message for the PR (what, where, the server's code)."""
    where = f"{bucket}/{key}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or _status(exc))
        message = str(error.get("Message") or "").strip()[:_MESSAGE_LIMIT]
        text = f"S3 refused to {action} {where}: {code}" + (f" ({message})" if message and message != code else "")
        if _status(exc) >= 500 or _status(exc) == 429 or code in _TRY_LATER_CODES:
            raise StoreUnavailable(text) from exc
        raise StoreRefused(text) from exc
    text = f"cannot {action} {where}: {exc}"[:_MESSAGE_LIMIT + len(where)]
    if isinstance(exc, _CONFIGURATION_ERRORS):
        raise StoreRefused(text) from exc
    raise StoreUnavailable(text) from exc
