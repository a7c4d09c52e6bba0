"""Signing deployed files (the EESSI `signing` setting): an SSH key signs with `ssh-keygen -Y sign`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class SigningError(Exception):
    """The file could not be signed (key missing or unusable, ssh-keygen failed): the upload stops
    and the message goes to the PR (never the key's content)."""


class Signer(Protocol):
    def sign_file(self, key: Path, namespace: str, path: Path) -> bytes:
        """The armoured SSH signature (`-----BEGIN SSH SIGNATURE-----...`) of the file at `path`, made
        with the private key at `key` in `namespace` (the bot instance's name, as the EESSI upload
        script used). The file is streamed to ssh-keygen's stdin (opened without following links) and
        the signature read from its stdout: nothing is written beside the file, which lies in a
        directory PR code controls. Raises SigningError."""
        ...

    def sign_bytes(self, key: Path, namespace: str, data: bytes) -> bytes:
        """The same for a small document (the `.meta.txt`). Raises SigningError."""
        ...
