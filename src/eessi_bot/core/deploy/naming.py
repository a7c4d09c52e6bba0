"""Where an artefact goes (reference §7.4-7.5): bucket, object keys and URL, as the EESSI upload
script (`eessi-upload-to-staging`) computed them, so that EESSI's ingestion finds them.

Fixed here (EESSI ⚠): `envsubst` expanded every environment variable of the bot into the key (and an
unset one to nothing); here only the three documented names are substituted and anything else stays
as written. The script accepted `.tar.gz` only; here any `.tar.*` is taken off the legacy path. A key
never starts with `/`, never holds `//`, `.` or `..` segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from eessi_bot.core.config.model import DeployConfig

ANY_REPO = "*"
"""The key of a value set for every repository (a plain string in app.cfg)."""

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_TAR_EXTENSION = re.compile(r"\.tar(?:\.[A-Za-z0-9]+)?$")


class NamingError(ValueError):
    """No place for an artefact (no bucket, a prefix template that makes a bad key): the message goes
    to the PR as the reason it was not uploaded."""


def bucket_for(buckets: Mapping[str, str], repo_id: str) -> Optional[str]:
    """The repository's own bucket, else the one for every repository, else None (not uploaded:
    "no bucket configured for repository ..."). An empty value is no bucket."""
    value = buckets[repo_id] if repo_id in buckets else buckets.get(ANY_REPO)
    return value or None


def prefix_for(prefixes: Mapping[str, str], repo_id: str) -> Optional[str]:
    """The prefix template for `repo_id`: "" (the legacy path) when the setting is empty, as in EESSI;
    None when it is a per-repository object without this repository (EESSI: "no ... prefix specified")."""
    if not prefixes:
        return ""
    if repo_id in prefixes:
        return prefixes[repo_id]
    return prefixes.get(ANY_REPO)


def legacy_aws_path(artefact: str) -> str:
    """The EESSI script's default prefix: `eessi-2023.06-software-linux-x86_64-amd-zen2-1724830000.tar.gz`
    → `2023.06/software/linux/x86_64/amd/zen2/1724830000` (`tr -s '-' '/'`, then `s/^eessi.//`, then
    the extension off; `.tar.zst` and any other `.tar.*` too, not only `.tar.gz`)."""
    path = re.sub("-+", "/", artefact)
    if path.startswith("eessi") and len(path) > len("eessi"):
        path = path[len("eessi") + 1:]
    return _TAR_EXTENSION.sub("", path)


def _substitute(template: str, values: Mapping[str, str]) -> str:
    """`envsubst` restricted to `values` (`$name` and `${name}`); any other `$...` stays as written."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))
    return _VARIABLE.sub(one, template)


def normalise_prefix(raw: str) -> str:
    """`raw` with empty segments dropped (no leading or trailing `/`, no `//`); NamingError for a `.`
    or `..` segment or an empty result."""
    segments = [s for s in raw.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise NamingError(f"the prefix {raw!r} has a `.` or `..` segment")
    if not segments:
        raise NamingError(f"the prefix {raw!r} is empty")
    return "/".join(segments)


def object_prefix(template: str, repo: str, pr_number: int, artefact: str) -> str:
    """The key prefix: the legacy path for an empty template, else the template with
    `${github_repository}`, `${pull_request_number}` and `${legacy_aws_path}` (or `$name`) filled in.
    Raises NamingError when the result is not a clean relative path."""
    legacy = legacy_aws_path(artefact)
    if not template.strip():
        return normalise_prefix(legacy)
    return normalise_prefix(_substitute(template, {
        "github_repository": repo, "pull_request_number": str(pr_number), "legacy_aws_path": legacy}))


@dataclass(frozen=True)
class ObjectKeys:
    artefact: str
    metadata: str
    artefact_sig: Optional[str] = None
    metadata_sig: Optional[str] = None

    def all(self) -> Tuple[str, ...]:
        """Every key, in the EESSI script's upload order (each signature before what it signs)."""
        keys = (self.artefact_sig, self.artefact, self.metadata_sig, self.metadata)
        return tuple(k for k in keys if k is not None)


def object_keys(prefix: str, metadata_prefix: str, artefact: str, signing: bool) -> ObjectKeys:
    """`<prefix>/<artefact>` and `<mprefix>/<artefact>.meta.txt`, with `.sig` beside each when signing."""
    key = f"{prefix}/{artefact}"
    meta = f"{metadata_prefix}/{artefact}.meta.txt"
    return ObjectKeys(key, meta, f"{key}.sig" if signing else None, f"{meta}.sig" if signing else None)


def bucket_url(endpoint_url: str, bucket: str) -> str:
    """`<endpoint_url>/<bucket>` for a non-AWS store, else `https://<bucket>.s3.amazonaws.com`."""
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}"
    return f"https://{bucket}.s3.amazonaws.com"


@dataclass(frozen=True)
class Placement:
    bucket: str
    keys: ObjectKeys
    url: str
    """Where the artefact can be fetched (`payload.url` of the metadata)."""
    signing: Optional[Mapping[str, str]] = None
    """The repository's `signing` entry (`key`, ...), when its uploads are signed."""


def signing_for(deploy: DeployConfig, repo_id: str) -> Optional[Mapping[str, str]]:
    return deploy.signing.get(repo_id) or deploy.signing.get(ANY_REPO)


def place(deploy: DeployConfig, repo: str, pr_number: int, repo_id: str, artefact: str) -> Placement:
    """Bucket, keys and URL of an artefact of `repo_id` built for PR `repo#pr_number`. Raises
    NamingError (the reason for the PR) when something is not configured or makes a bad key."""
    bucket = bucket_for(deploy.bucket_name, repo_id)
    if bucket is None:
        raise NamingError(f"no bucket configured for repository {repo_id}")
    templates = {}
    for what, mapping in (("artefact", deploy.artefact_prefix), ("metadata", deploy.metadata_prefix)):
        template = prefix_for(mapping, repo_id)
        if template is None:
            raise NamingError(f"no {what} prefix configured for repository {repo_id}")
        templates[what] = object_prefix(template, repo, pr_number, artefact)
    signing = signing_for(deploy, repo_id)
    keys = object_keys(templates["artefact"], templates["metadata"], artefact, signing is not None)
    return Placement(bucket, keys, f"{bucket_url(deploy.endpoint_url, bucket)}/{keys.artefact}", signing)
