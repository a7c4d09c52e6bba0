"""The S3 object store against a real S3 server (SeaweedFS, see tests/s3.py): what a deploy puts is there,
whole, with its checksum; refusals and outages come out as the two errors the deployer acts on; the
endpoint is the configured one, never AWS_ENDPOINT_URL."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, Type

import pytest

from eessi_bot.adapters.s3 import PART_SIZE, S3ObjectStore
from eessi_bot.ports.object_store import ObjectInfo, StoreRefused, StoreUnavailable
from tests.s3 import CLOSED_ENDPOINT, PrivateS3, S3Server, use_credentials

MIB = 1024 * 1024
QUICKLY = 10.0
"""Seconds within which an unreachable store must say so."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content(size: int) -> bytes:
    """Random bytes: a part sent twice or out of order would show."""
    return os.urandom(size)


def read_back(server: S3Server, bucket: str, key: str) -> bytes:
    return server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


@dataclass(frozen=True)
class FileCase:
    id: str
    size: int
    metadata: Dict[str, str] = field(default_factory=dict)


FILE_CASES = [
    FileCase("small", 1000, {"job-id": "42"}),
    FileCase("empty", 0),
    FileCase("just-below-the-part-size", PART_SIZE - 1),
    FileCase("multipart-20-mib", 20 * MIB + 123, {"job-id": "43"}),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_put_file_stores_the_file_whole_with_its_checksum(s3_env: S3Server, s3_bucket: str, tmp_path: Path,
                                                          case: FileCase) -> None:
    data = content(case.size)
    path = tmp_path / "artefact.tar.gz"
    path.write_bytes(data)
    store = S3ObjectStore(s3_env.endpoint)
    store.put_file(s3_bucket, "builds/artefact.tar.gz", path, sha256_of(data), case.metadata)
    assert store.head(s3_bucket, "builds/artefact.tar.gz") == ObjectInfo(case.size, sha256_of(data))
    assert sha256_of(read_back(s3_env, s3_bucket, "builds/artefact.tar.gz")) == sha256_of(data)
    metadata = s3_env.client().head_object(Bucket=s3_bucket, Key="builds/artefact.tar.gz")["Metadata"]
    assert metadata == {**case.metadata, "sha256": sha256_of(data)}


def test_put_bytes_stores_small_documents(s3_env: S3Server, s3_bucket: str) -> None:
    store = S3ObjectStore(s3_env.endpoint)
    document = b"-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n"
    store.put_bytes(s3_bucket, "builds/artefact.tar.gz.sig", document, sha256_of(document))
    assert store.head(s3_bucket, "builds/artefact.tar.gz.sig") == ObjectInfo(len(document), sha256_of(document))
    assert read_back(s3_env, s3_bucket, "builds/artefact.tar.gz.sig") == document


def test_a_put_replaces_what_was_there(s3_env: S3Server, s3_bucket: str) -> None:
    store = S3ObjectStore(s3_env.endpoint)
    store.put_bytes(s3_bucket, "meta.txt", b"first", sha256_of(b"first"))
    store.put_bytes(s3_bucket, "meta.txt", b"second!", sha256_of(b"second!"))
    assert store.head(s3_bucket, "meta.txt") == ObjectInfo(7, sha256_of(b"second!"))


def test_head_of_a_missing_object_is_none(s3_env: S3Server, s3_bucket: str) -> None:
    assert S3ObjectStore(s3_env.endpoint).head(s3_bucket, "no/such/key") is None


def test_head_of_an_object_written_by_someone_else_has_no_checksum(s3_env: S3Server, s3_bucket: str) -> None:
    s3_env.client().put_object(Bucket=s3_bucket, Key="foreign", Body=b"12345")
    assert S3ObjectStore(s3_env.endpoint).head(s3_bucket, "foreign") == ObjectInfo(5, None)


@dataclass(frozen=True)
class RefusalCase:
    id: str
    act: Callable[[S3ObjectStore, str, Path], None]
    """Given the store, a good bucket and a directory holding `artefact` (a small regular file)."""
    says: str


def put_artefact(path: Path, bucket: str = "") -> Callable[[S3ObjectStore, str, Path], None]:
    """Put `path` (relative to the directory) into the bucket (or `bucket`, when given)."""
    def act(store: S3ObjectStore, good: str, where: Path) -> None:
        store.put_file(bucket or good, "k", where / path, sha256_of(b"artefact"))
    return act


def symlinked(store: S3ObjectStore, bucket: str, where: Path) -> None:
    (where / "link").symlink_to(where / "artefact")
    put_artefact(Path("link"))(store, bucket, where)


def fifo(store: S3ObjectStore, bucket: str, where: Path) -> None:
    os.mkfifo(where / "fifo")   # opening it for reading would wait for a writer for ever
    put_artefact(Path("fifo"))(store, bucket, where)


REFUSAL_CASES = [
    RefusalCase("file-into-a-missing-bucket", put_artefact(Path("artefact"), "no-such-bucket-here"),
                "no-such-bucket-here/k: NoSuchBucket"),
    RefusalCase("bytes-into-a-missing-bucket",
                lambda store, _, __: store.put_bytes("no-such-bucket-here", "k", b"x", sha256_of(b"x")),
                "no-such-bucket-here/k: NoSuchBucket"),
    RefusalCase("bytes-not-matching-their-checksum",
                lambda store, bucket, _: store.put_bytes(bucket, "k", b"x", sha256_of(b"y")), "/k: BadDigest"),
    RefusalCase("a-symbolic-link", symlinked, "it is a symbolic link"),
    RefusalCase("a-directory", put_artefact(Path()), "it is not a regular file"),
    RefusalCase("a-fifo", fifo, "it is not a regular file"),
    RefusalCase("a-missing-file", put_artefact(Path("missing")), "No such file or directory"),
]


@pytest.mark.parametrize("case", REFUSAL_CASES, ids=lambda c: c.id)
def test_refusals(s3_env: S3Server, s3_bucket: str, tmp_path: Path, case: RefusalCase) -> None:
    (tmp_path / "artefact").write_bytes(b"artefact")
    with pytest.raises(StoreRefused, match=case.says.replace(".", r"\.")):
        case.act(S3ObjectStore(s3_env.endpoint), s3_bucket, tmp_path)
    assert S3ObjectStore(s3_env.endpoint).head(s3_bucket, "k") is None


def test_a_wrong_secret_is_refused(s3_env: S3Server, s3_bucket: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong" + s3_env.secret_key)
    (tmp_path / "artefact").write_bytes(b"artefact")
    store = S3ObjectStore(s3_env.endpoint)
    with pytest.raises(StoreRefused, match="SignatureDoesNotMatch"):
        store.put_file(s3_bucket, "k", tmp_path / "artefact", sha256_of(b"artefact"))
    with pytest.raises(StoreRefused, match=f"{s3_bucket}/k: 403"):
        store.head(s3_bucket, "k")


@pytest.mark.parametrize("configured", [True, False], ids=["configured-endpoint-used", "env-endpoint-ignored"])
def test_the_endpoint_is_the_configured_one(s3_env: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
                                            configured: bool) -> None:
    """AWS_ENDPOINT_URL (which boto3 would otherwise follow) leads elsewhere, or to the server while the
    configuration names a closed port: only the configuration counts."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED_ENDPOINT if configured else s3_env.endpoint)
    store = S3ObjectStore(s3_env.endpoint if configured else CLOSED_ENDPOINT)
    if configured:
        store.put_bytes(s3_bucket, "k", b"x", sha256_of(b"x"))
        assert store.head(s3_bucket, "k") == ObjectInfo(1, sha256_of(b"x"))
    else:
        with pytest.raises(StoreUnavailable, match="cannot upload"):
            store.put_bytes(s3_bucket, "k", b"x", sha256_of(b"x"))


def test_a_stopped_server_is_unavailable_quickly_and_the_put_works_once_it_is_back(
        private_s3: PrivateS3, tmp_path: Path) -> None:
    bucket = private_s3.server.new_bucket()
    data = content(10 * MIB)
    path = tmp_path / "artefact"
    path.write_bytes(data)
    store = S3ObjectStore(private_s3.server.endpoint)
    private_s3.stop()
    attempts: Dict[str, Callable[[], object]] = {
        "put_file": lambda: store.put_file(bucket, "k", path, sha256_of(data)),
        "put_bytes": lambda: store.put_bytes(bucket, "small", b"x", sha256_of(b"x")),
        "head": lambda: store.head(bucket, "k"),
    }
    for name, attempt in attempts.items():
        began = time.monotonic()
        with pytest.raises(StoreUnavailable):
            attempt()
        assert time.monotonic() - began < QUICKLY, name
    private_s3.start()
    store.put_file(bucket, "k", path, sha256_of(data))
    assert store.head(bucket, "k") == ObjectInfo(len(data), sha256_of(data))


# --- answers a real server does not give on demand: a stand-in that answers every request alike ------------

@dataclass(frozen=True)
class AnswerCase:
    id: str
    status: int   # 0: close the connection without an answer
    code: str
    error: Type[Exception]
    head: bool = False


ANSWER_CASES = [
    AnswerCase("slow-down", 503, "SlowDown", StoreUnavailable),
    AnswerCase("internal-error", 500, "InternalError", StoreUnavailable),
    AnswerCase("too-many-requests", 429, "TooManyRequests", StoreUnavailable),
    AnswerCase("request-timeout-400", 400, "RequestTimeout", StoreUnavailable),
    AnswerCase("connection-dropped", 0, "", StoreUnavailable),
    AnswerCase("access-denied", 403, "AccessDenied", StoreRefused),
    AnswerCase("invalid-argument", 400, "InvalidArgument", StoreRefused),
    AnswerCase("head-access-denied", 403, "", StoreRefused, head=True),
    AnswerCase("head-service-unavailable", 503, "", StoreUnavailable, head=True),
]


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[int, str], str]]:
    """A stand-in S3 endpoint on loopback; call it with (status, code) to choose its answer; the endpoint."""
    answer = AnswerCase("chosen", 500, "", StoreUnavailable)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # answers botocore's "Expect: 100-continue" at once

        def reply(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not answer.status:
                self.close_connection = True
                return
            body = (f"<Error><Code>{answer.code}</Code><Message>no</Message></Error>".encode()
                    if answer.code and self.command != "HEAD" else b"")
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_HEAD = do_POST = do_GET = reply

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    use_credentials(monkeypatch, S3Server(endpoint, "key", "secret"), tmp_path)

    def choose(status: int, code: str) -> str:
        nonlocal answer
        answer = AnswerCase("chosen", status, code, StoreUnavailable)
        return endpoint

    yield choose
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("case", ANSWER_CASES, ids=lambda c: c.id)
def test_what_an_answer_means(answering: Callable[[int, str], str], case: AnswerCase) -> None:
    store = S3ObjectStore(answering(case.status, case.code))
    began = time.monotonic()
    with pytest.raises(case.error) as caught:
        if case.head:
            store.head("bucket", "key")
        else:
            store.put_bytes("bucket", "key", b"x", sha256_of(b"x"))
    assert time.monotonic() - began < QUICKLY
    assert "bucket/key" in str(caught.value)
    assert case.code in str(caught.value)


def test_a_malformed_checksum_is_a_programming_error(s3_env: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        S3ObjectStore(s3_env.endpoint).put_bytes(s3_bucket, "k", b"x", "not-hex")
