"""The signer port with OpenSSH: `ssh-keygen -Y sign`, the data on its stdin, the signature on its stdout.

ssh-keygen signs its stdin when given no file, so nothing is written beside a deployed file (its
directory is PR-controlled) and a large tarball is streamed, not read into the bot's memory. It runs with
a minimal environment: no SSH_AUTH_SOCK (no agent: the key file is what signs), no HOME, no DISPLAY.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import IO, List, Optional, Union

from eessi_bot.adapters import process
from eessi_bot.jobs.files import NotReadable, open_regular
from eessi_bot.ports.signer import SigningError

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
SIGN_TIMEOUT = 600.0
"""Seconds to sign a file: ssh-keygen hashes at several hundred MB/s, a build tarball is a few GB."""
CHECK_TIMEOUT = 30.0
SIGNATURE_START = b"-----BEGIN SSH SIGNATURE-----"
_PRIVATE_KEY = re.compile(rb"^-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----\r?$")
_PUBLIC_KEY = re.compile(rb"^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/]+=*")


class SshSigner:
    """`Signer` with an SSH private key file (ed25519, RSA, ECDSA; no passphrase: nobody would type it)."""

    def __init__(self, ssh_keygen: str = "ssh-keygen", timeout: float = SIGN_TIMEOUT) -> None:
        self.ssh_keygen = ssh_keygen
        self.timeout = timeout

    def sign_file(self, key: Path, namespace: str, path: Path) -> bytes:
        """The signature of the file at `path`, opened without following a final symbolic link."""
        try:
            with open_regular(path) as source:
                return self._sign(key, namespace, source, str(path))
        except NotReadable as exc:
            raise SigningError(f"cannot sign {path}: {exc}") from exc

    def sign_bytes(self, key: Path, namespace: str, data: bytes) -> bytes:
        return self._sign(key, namespace, data, f"{len(data)} bytes")

    def _sign(self, key: Path, namespace: str, data: Union[bytes, IO[bytes]], what: str) -> bytes:
        problem = _key_file_problem(key)
        if problem is not None:
            raise SigningError(f"cannot sign {what}: {problem}")
        argv = [self.ssh_keygen, "-Y", "sign", "-f", str(key), "-n", namespace]
        try:
            result = process.run(argv, env=ENV, timeout=self.timeout, stdin=data)
        except OSError as exc:
            raise SigningError(f"cannot run {self.ssh_keygen}: {exc.strerror or exc}") from exc
        except process.TimedOut as exc:
            raise SigningError(f"signing {what} with {key} took longer than {self.timeout:g} s") from exc
        if result.returncode != 0 or not result.stdout.startswith(SIGNATURE_START):
            raise SigningError(f"signing {what} with {key} failed (ssh-keygen exit code {result.returncode}): "
                               f"{_said(result.stderr_text)}")
        return result.stdout


def check_private_key(path: Path, ssh_keygen: str = "ssh-keygen") -> Optional[str]:
    """What is wrong with `path` as a signing key, or None: it must be a readable private key file that
    `ssh-keygen -y` can load without a passphrase (which also checks that only its owner may read it).
    Nothing of the key is printed or returned."""
    problem = _key_file_problem(path)
    if problem is not None:
        return problem
    try:
        result = process.run([ssh_keygen, "-y", "-P", "", "-f", str(path)], env=ENV, timeout=CHECK_TIMEOUT)
    except OSError as exc:
        return f"cannot run {ssh_keygen}: {exc.strerror or exc}"
    except process.TimedOut:
        return f"{ssh_keygen} -y -f {path} took longer than {CHECK_TIMEOUT:g} s"
    if result.returncode != 0:
        hint = " (the bot cannot use a key with a passphrase)" if "passphrase" in result.stderr_text else ""
        return f"ssh-keygen cannot use the key {path}: {_said(result.stderr_text)}{hint}"
    return None


def _key_file_problem(path: Path) -> Optional[str]:
    """Whether `path` looks like a private key, from its first line only (opened so that a FIFO cannot
    make the bot wait)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return f"the key file {path} does not exist"
    except OSError as exc:
        return f"cannot read the key file {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return f"the key file {path} is not a regular file"
    with os.fdopen(fd, "rb") as file:
        first = file.readline(200)
    if _PRIVATE_KEY.match(first.rstrip(b"\n")):
        return None
    if _PUBLIC_KEY.match(first):
        return f"{path} is a public key; the signing key must be the private key"
    return f"{path} is not a private key (no '-----BEGIN ... PRIVATE KEY-----' line)"


def _said(stderr: str) -> str:
    """ssh-keygen's message in one line, without its banner of @ signs and the progress note."""
    lines: List[str] = [line.strip() for line in stderr.splitlines()]
    kept = [line for line in lines if line and not line.startswith("@") and line != "Signing data on standard input"]
    return " ".join(kept) or "no message"
