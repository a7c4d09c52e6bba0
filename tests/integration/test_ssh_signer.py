"""Signing with `ssh-keygen -Y sign` (the installed OpenSSH): what the signer makes verifies with
`ssh-keygen -Y verify` for its namespace only; an unusable key is a SigningError that names the key and
never shows it; check-config's key check tells what is wrong."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest

from eessi_bot.adapters.ssh_signer import SshSigner, check_private_key
from eessi_bot.ports.signer import SigningError

NAMESPACE = "eessi-bot-instance"
IDENTITY = "bot@example.org"

def keygen(*args: str, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["ssh-keygen", *args], input=stdin, capture_output=True, check=False, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Throwaway keys by name: ed25519, rsa (no passphrase), protected (one), and a lone public key."""
    home = tmp_path_factory.mktemp("keys")
    made = {"ed25519": ("-t", "ed25519", "-N", ""), "rsa": ("-t", "rsa", "-b", "2048", "-N", ""),
            "protected": ("-t", "ed25519", "-N", "secret phrase")}
    for name, options in made.items():
        assert keygen("-q", *options, "-C", IDENTITY, "-f", str(home / name)).returncode == 0
    shutil.copy(home / "ed25519.pub", home / "lone-public-key")
    return {name: home / name for name in [*made, "lone-public-key"]}


def verifies(keys: Dict[str, Path], key: str, signature: bytes, data: bytes, namespace: str,
             tmp_path: Path) -> bool:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{IDENTITY} {(keys[key].parent / f'{key}.pub').read_text()}")
    (tmp_path / "sig").write_bytes(signature)
    result = keygen("-Y", "verify", "-f", str(allowed), "-I", IDENTITY, "-n", namespace, "-s",
                    str(tmp_path / "sig"), stdin=data)
    return result.returncode == 0


@dataclass(frozen=True)
class SignCase:
    id: str
    key: str
    size: int
    as_file: bool


SIGN_CASES = [
    SignCase("ed25519-file", "ed25519", 1000, True),
    SignCase("ed25519-bytes", "ed25519", 300, False),
    SignCase("rsa-file", "rsa", 1000, True),
    SignCase("rsa-bytes", "rsa", 300, False),
    SignCase("ed25519-empty-bytes", "ed25519", 0, False),
    SignCase("ed25519-20-mib-file", "ed25519", 20 * 1024 * 1024, True),
]


@pytest.mark.parametrize("case", SIGN_CASES, ids=lambda c: c.id)
def test_a_signature_verifies_in_its_namespace_only(keys: Dict[str, Path], tmp_path: Path, case: SignCase) -> None:
    data = os.urandom(case.size)
    signer = SshSigner()
    if case.as_file:
        (tmp_path / "artefact").write_bytes(data)
        signature = signer.sign_file(keys[case.key], NAMESPACE, tmp_path / "artefact")
    else:
        signature = signer.sign_bytes(keys[case.key], NAMESPACE, data)
    assert signature.startswith(b"-----BEGIN SSH SIGNATURE-----\n")
    assert signature.endswith(b"-----END SSH SIGNATURE-----\n")
    assert verifies(keys, case.key, signature, data, NAMESPACE, tmp_path)
    assert not verifies(keys, case.key, signature, data, "another-namespace", tmp_path)
    assert not verifies(keys, case.key, signature, data + b"!", NAMESPACE, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["allowed_signers", "sig"] + (
        ["artefact"] if case.as_file else []))   # nothing written beside the file


@dataclass(frozen=True)
class FailureCase:
    id: str
    sign: Callable[[Dict[str, Path], Path], bytes]
    """Given the keys and a directory holding `artefact`."""
    says: str


def sign_artefact(key: str, name: str = "artefact") -> Callable[[Dict[str, Path], Path], bytes]:
    return lambda keys, where: SshSigner().sign_file(keys[key] if key in keys else where / key, NAMESPACE,
                                                     where / name)


def with_link(keys: Dict[str, Path], where: Path) -> bytes:
    (where / "link").symlink_to(where / "artefact")
    return sign_artefact("ed25519", "link")(keys, where)


def with_fifo(keys: Dict[str, Path], where: Path) -> bytes:
    os.mkfifo(where / "fifo")
    return sign_artefact("ed25519", "fifo")(keys, where)


def with_public_key_beside_private(keys: Dict[str, Path], where: Path) -> bytes:
    """ssh-keygen itself would find `ed25519` for `ed25519.pub` and sign: the signer refuses first."""
    return SshSigner().sign_bytes(keys["ed25519"].with_name("ed25519.pub"), NAMESPACE, b"data")


FAILURE_CASES = [
    FailureCase("missing-key", sign_artefact("no-such-key"), "key file {where}/no-such-key does not exist"),
    FailureCase("key-is-a-directory", sign_artefact("."), "not a regular file"),
    FailureCase("lone-public-key", sign_artefact("lone-public-key"), "lone-public-key is a public key"),
    FailureCase("public-key-beside-its-private-key", with_public_key_beside_private, "ed25519.pub is a public key"),
    FailureCase("passphrase-protected", sign_artefact("protected"), "incorrect passphrase"),
    FailureCase("file-is-a-symlink", with_link, "cannot sign {where}/link: it is a symbolic link"),
    FailureCase("file-is-a-fifo", with_fifo, "it is not a regular file"),
    FailureCase("file-missing", sign_artefact("ed25519", "missing"), "No such file or directory"),
]


@pytest.mark.parametrize("case", FAILURE_CASES, ids=lambda c: c.id)
def test_signing_failures(keys: Dict[str, Path], tmp_path: Path, case: FailureCase) -> None:
    (tmp_path / "artefact").write_bytes(b"artefact\n")
    with pytest.raises(SigningError) as caught:
        case.sign(keys, tmp_path)
    message = str(caught.value)
    assert case.says.format(where=tmp_path) in message
    for key in ("ed25519", "rsa", "protected"):
        secret_line = keys[key].read_text().splitlines()[1]
        assert secret_line not in message


def test_a_namespace_ssh_keygen_refuses_is_a_signing_error(keys: Dict[str, Path]) -> None:
    with pytest.raises(SigningError, match="ssh-keygen exit code"):
        SshSigner().sign_bytes(keys["ed25519"], "", b"data")


def test_no_ssh_keygen_is_a_signing_error(keys: Dict[str, Path]) -> None:
    with pytest.raises(SigningError, match="cannot run /nonexistent/ssh-keygen"):
        SshSigner("/nonexistent/ssh-keygen").sign_bytes(keys["ed25519"], NAMESPACE, b"data")


@dataclass(frozen=True)
class KeyCase:
    id: str
    make: Callable[[Dict[str, Path], Path], Path]
    problem: Optional[str]
    """A part of the problem text; None: the key is fine."""


def garbage(_: Dict[str, Path], where: Path) -> Path:
    (where / "garbage").write_bytes(b"\x00\xffnot a key\n")
    return where / "garbage"


def too_open(keys: Dict[str, Path], where: Path) -> Path:
    shutil.copy(keys["ed25519"], where / "too-open")
    (where / "too-open").chmod(0o644)
    return where / "too-open"


def pem_garbage(_: Dict[str, Path], where: Path) -> Path:
    (where / "pem").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    return where / "pem"


KEY_CASES = [
    KeyCase("ed25519", lambda keys, _: keys["ed25519"], None),
    KeyCase("rsa", lambda keys, _: keys["rsa"], None),
    KeyCase("missing", lambda _, where: where / "missing", "does not exist"),
    KeyCase("directory", lambda _, where: where, "is not a regular file"),
    KeyCase("public-key", lambda keys, _: keys["lone-public-key"], "is a public key"),
    KeyCase("garbage", garbage, "is not a private key"),
    KeyCase("private-key-header-bad-body", pem_garbage, "ssh-keygen cannot use the key"),
    KeyCase("passphrase-protected", lambda keys, _: keys["protected"], "incorrect passphrase"),
    KeyCase("readable-by-others", too_open, "are too open"),
]


@pytest.mark.parametrize("case", KEY_CASES, ids=lambda c: c.id)
def test_check_private_key(keys: Dict[str, Path], tmp_path: Path, case: KeyCase) -> None:
    path = case.make(keys, tmp_path)
    problem = check_private_key(path)
    if case.problem is None:
        assert problem is None
    else:
        assert problem is not None and case.problem in problem and str(path) in problem
