"""A recording fake of the `ObjectStore` port (a dict of objects) and of the `Signer` port."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from eessi_bot.ports.object_store import ObjectInfo, StoreRefused, StoreUnavailable
from eessi_bot.ports.signer import SigningError


class FakeObjectStore:
    def __init__(self, buckets: Tuple[str, ...] = ("eessi-staging",)) -> None:
        self.objects: Dict[Tuple[str, str], bytes] = {}
        self.metadata: Dict[Tuple[str, str], str] = {}
        self.buckets = set(buckets)
        self.puts: List[Tuple[str, str]] = []
        self.down = False

    def put_file(self, bucket: str, key: str, path: Path, sha256: str,
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        self.put_bytes(bucket, key, path.read_bytes(), sha256)

    def put_bytes(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        self._check(bucket)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreRefused(f"{bucket}/{key}: checksum mismatch")
        self.puts.append((bucket, key))
        self.objects[(bucket, key)] = data
        self.metadata[(bucket, key)] = sha256

    def head(self, bucket: str, key: str) -> Optional[ObjectInfo]:
        self._check(bucket)
        data = self.objects.get((bucket, key))
        return None if data is None else ObjectInfo(len(data), self.metadata.get((bucket, key)))

    def names(self) -> List[str]:
        return sorted(f"{bucket}/{key}" for bucket, key in self.objects)

    def _check(self, bucket: str) -> None:
        if self.down:
            raise StoreUnavailable("Could not connect to the endpoint URL")
        if bucket not in self.buckets:
            raise StoreRefused(f"bucket {bucket}: NoSuchBucket")


class FakeSigner:
    def __init__(self) -> None:
        self.signed: List[Tuple[str, str]] = []
        self.fail: Optional[str] = None

    def sign_file(self, key: Path, namespace: str, path: Path) -> bytes:
        return self.sign_bytes(key, namespace, path.read_bytes())

    def sign_bytes(self, key: Path, namespace: str, data: bytes) -> bytes:
        if self.fail is not None:
            raise SigningError(self.fail)
        self.signed.append((str(key), namespace))
        return b"SIGNATURE " + hashlib.sha256(data).hexdigest().encode() + b" " + namespace.encode()
