"""A site on disk for tests: app.cfg, a throwaway App key, repos.cfg, work directories."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_KEY_CACHE: Dict[str, bytes] = {}

REPOS_CFG = """\
[eessi.io-2023.06-software]
repo_name = software.eessi.io
repo_version = 2023.06
config_bundle = eessi.io-cfg_files.tgz
config_map = {"eessi.io/eessi.io.pub":"/etc/cvmfs/keys/eessi.io/eessi.io.pub"}
container = docker://ghcr.io/eessi/build-node:debian12

[eessi.io-2023.06-compat]
repo_name = software.eessi.io
repo_version = 2023.06
"""

NODE_TYPE_MAP = """{
    "cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                 "repo_targets": ["eessi.io-2023.06-compat", "eessi.io-2023.06-software"]},
    "cpu_zen4": {"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4",
                 "repo_targets": ["eessi.io-2023.06-software"]}}"""

NODE_TYPE_MAP_WITH_GPU = NODE_TYPE_MAP[:-1] + """,
    "gpu_h100": {"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "accel": "nvidia/cc90", "slurm_params": "-p gpu",
                 "repo_targets": ["eessi.io-2023.06-software"]}}"""
"""The golden tests' site: the two CPU node types and a GPU one."""


def private_key_pem() -> bytes:
    """A 2048-bit RSA key, generated once per test session (never shipped)."""
    if "key" not in _KEY_CACHE:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _KEY_CACHE["key"] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
    return _KEY_CACHE["key"]


def write_site(root: Path, *, pem: Optional[bytes] = None, extra: str = "", app_id: int = 4242,
               installation_id: int = 99, api_url: str = "http://127.0.0.1:9", chatlevel: str = "basic",
               command_permission: str = "maintainer", node_type_map: str = NODE_TYPE_MAP,
               backend: str = "local", github_extra: str = "", build_permission: str = "maintainer",
               buildenv_extra: str = "", app_name: str = "test-bot") -> Path:
    """Write a complete, valid site under `root` and return the app.cfg path."""
    root.mkdir(parents=True, exist_ok=True)
    key = root / "app.pem"
    key.write_bytes(pem if pem is not None else private_key_pem())
    key.chmod(0o600)
    repos = root / "repos"
    repos.mkdir(exist_ok=True)
    (repos / "repos.cfg").write_text(REPOS_CFG, encoding="utf-8")
    (repos / "eessi.io-cfg_files.tgz").write_bytes(b"")
    cfg = root / "app.cfg"
    cfg.write_text(textwrap.dedent(f"""\
        [github]
        app_id = {app_id}
        app_name = {app_name}
        installation_id = {installation_id}
        private_key = {key}
        api_url = {api_url}
        webhook_secret = s3cret
        @GITHUB_EXTRA@

        [bot]
        data_dir = {root}/state

        [bot_control]
        command_permission = {command_permission}
        chatlevel = {chatlevel}

        [buildenv]
        jobs_base_dir = {root}/jobs
        job_backend = {backend}
        build_permission = {build_permission}
        allowed_exportvars = ["SKIP_TESTS=yes"]
        @BUILDENV_EXTRA@

        [architecturetargets]
        node_type_map = {textwrap.indent(node_type_map, "            ").strip()}

        [repo_targets]
        repos_cfg_dir = {repos}
        """).replace("@GITHUB_EXTRA@", github_extra).replace("@BUILDENV_EXTRA@", buildenv_extra) + extra,
        encoding="utf-8")
    return cfg
