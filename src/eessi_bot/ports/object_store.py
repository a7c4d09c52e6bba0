"""S3 (or any object store) as a port: what a deploy needs to put built artefacts into a bucket.

The adapter (boto3) streams files (multipart for large ones, a SHA-256 checksum per part that the
server verifies) and translates failures into the two errors below; the deployer decides what to
do about them (wait and retry while the store is unreachable, report a refusal on the PR).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Protocol

SHA256_METADATA = "sha256"
"""User metadata key (`x-amz-meta-sha256`) holding the hex SHA-256 of the whole object: what a
later look (`head`) compares, since a multipart ETag is no checksum of the content."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    sha256: Optional[str]
    """From the object's `sha256` metadata; None when it has none (written by someone else)."""


class StoreUnavailable(Exception):
    """The object store did not answer (connection refused, timeout, 5xx): try again later."""


class StoreRefused(Exception):
    """The object store answered no (no such bucket, access denied, bad request): retrying the same
    request will not help; the message goes to the PR."""


class ObjectStore(Protocol):
    def put_file(self, bucket: str, key: str, path: Path, sha256: str,
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        """Upload `path` as `bucket/key`, streaming (never the whole file in memory), with `sha256`
        (hex, of the whole file) stored as the object's `sha256` metadata and checked per part by the
        server. Raises StoreUnavailable or StoreRefused."""
        ...

    def put_bytes(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        """A small object (metadata, signatures), likewise checked. Raises StoreUnavailable or StoreRefused."""
        ...

    def head(self, bucket: str, key: str) -> Optional[ObjectInfo]:
        """What the store holds at `bucket/key`, or None. Raises StoreUnavailable or StoreRefused."""
        ...
