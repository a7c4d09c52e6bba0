"""Buckets, prefixes, keys and URLs as the EESSI upload script made them (reference §7.4-7.5)."""

from __future__ import annotations

from typing import Mapping, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.config.model import DeployConfig, Permission
from eessi_bot.core.deploy.naming import (
    NamingError,
    ObjectKeys,
    Placement,
    bucket_for,
    bucket_url,
    legacy_aws_path,
    object_keys,
    object_prefix,
    place,
    prefix_for,
)

EESSI = "eessi-2023.06-software-linux-x86_64-amd-zen2-1724830000.tar.gz"
REPO_ID = "eessi.io-2023.06-software"


@pytest.mark.parametrize(("mapping", "repo_id", "bucket"), [
    ({"*": "eessi-staging"}, REPO_ID, "eessi-staging"),
    ({REPO_ID: "own", "*": "shared"}, REPO_ID, "own"),
    ({"other": "own", "*": "shared"}, REPO_ID, "shared"),
    ({"other": "own"}, REPO_ID, None),
    ({}, REPO_ID, None),
    ({REPO_ID: "", "*": "shared"}, REPO_ID, None),
], ids=["plain-string", "own-entry", "falls-back-to-star", "missing", "not-configured", "empty-own-entry"])
def test_bucket_for(mapping: Mapping[str, str], repo_id: str, bucket: Optional[str]) -> None:
    assert bucket_for(mapping, repo_id) == bucket


@pytest.mark.parametrize(("mapping", "prefix"), [
    ({}, ""),
    ({"*": "new/${github_repository}"}, "new/${github_repository}"),
    ({REPO_ID: "mine", "*": "shared"}, "mine"),
    ({REPO_ID: ""}, ""),
    ({"other": "theirs"}, None),
], ids=["empty-setting-is-legacy", "plain-string", "own-entry", "own-empty-entry", "object-without-repo"])
def test_prefix_for(mapping: Mapping[str, str], prefix: Optional[str]) -> None:
    assert prefix_for(mapping, REPO_ID) == prefix


@pytest.mark.parametrize(("artefact", "path"), [
    (EESSI, "2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("eessi-2023.06-software-linux-x86_64-amd-zen2-1724830000.tar.zst",
     "2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("eessi-2023.06-software-linux-x86_64-amd-zen2-accel-nvidia-cc80-1724830000.tar.xz",
     "2023.06/software/linux/x86_64/amd/zen2/accel/nvidia/cc80/1724830000"),
    ("eessi-2023.06-init-1724830000.tar", "2023.06/init/1724830000"),
    ("eessi.x-y.tar.gz", "x/y"),
    ("stack--v1-2.tar.gz", "stack/v1/2"),
    ("stack-1.sqfs", "stack/1.sqfs"),
    ("eessi", "eessi"),
], ids=["eessi-gz", "eessi-zst", "accel-xz", "init-tar", "eessi-dot", "dashes-squeezed", "other-extension-kept",
        "just-eessi"])
def test_legacy_aws_path(artefact: str, path: str) -> None:
    assert legacy_aws_path(artefact) == path


@pytest.mark.parametrize(("template", "prefix"), [
    ("", "2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("  ", "2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("new/${github_repository}/${pull_request_number}", "new/EESSI/software-layer/42"),
    ("$github_repository/$pull_request_number/$legacy_aws_path",
     "EESSI/software-layer/42/2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("/lead//double/${legacy_aws_path}/", "lead/double/2023.06/software/linux/x86_64/amd/zen2/1724830000"),
    ("x/$HOME/${USER}/$github_repository_x", "x/$HOME/${USER}/$github_repository_x"),
    ("pr-${pull_request_number}x", "pr-42x"),
    ("cost$", "cost$"),
], ids=["empty-is-legacy", "blank-is-legacy", "braces", "bare-names", "slashes-normalised",
        "no-environment", "glued-text", "lone-dollar"])
def test_object_prefix(template: str, prefix: str) -> None:
    assert object_prefix(template, "EESSI/software-layer", 42, EESSI) == prefix


@pytest.mark.parametrize(("template", "artefact"), [
    ("../other", EESSI),
    ("a/./b", EESSI),
    ("/", EESSI),
    ("${legacy_aws_path}", "x-..-y.tar.gz"),
    ("", "a-.-b.tar.gz"),
], ids=["dotdot-template", "dot-segment", "only-slash", "dotdot-from-name", "dot-from-legacy"])
def test_object_prefix_refuses(template: str, artefact: str) -> None:
    with pytest.raises(NamingError, match="prefix"):
        object_prefix(template, "EESSI/software-layer", 42, artefact)


@pytest.mark.parametrize(("signing", "keys"), [
    (False, ObjectKeys("p/a.tar.gz", "m/a.tar.gz.meta.txt")),
    (True, ObjectKeys("p/a.tar.gz", "m/a.tar.gz.meta.txt", "p/a.tar.gz.sig", "m/a.tar.gz.meta.txt.sig")),
], ids=["unsigned", "signed"])
def test_object_keys(signing: bool, keys: ObjectKeys) -> None:
    assert object_keys("p", "m", "a.tar.gz", signing) == keys
    assert keys.all()[-1] == "m/a.tar.gz.meta.txt" and len(keys.all()) == (4 if signing else 2)


@pytest.mark.parametrize(("endpoint", "url"), [
    ("", "https://eessi-staging.s3.amazonaws.com"),
    ("https://minio.example.org:9000", "https://minio.example.org:9000/eessi-staging"),
    ("https://minio.example.org:9000/", "https://minio.example.org:9000/eessi-staging"),
], ids=["aws", "endpoint", "endpoint-trailing-slash"])
def test_bucket_url(endpoint: str, url: str) -> None:
    assert bucket_url(endpoint, "eessi-staging") == url


def deploy(buckets: Mapping[str, str], artefact_prefix: Optional[Mapping[str, str]] = None,
           metadata_prefix: Optional[Mapping[str, str]] = None,
           signing: Optional[Mapping[str, Mapping[str, str]]] = None, endpoint: str = "") -> DeployConfig:
    return DeployConfig(upload_policy="latest", deploy_permission=Permission(frozenset({"maintainer"})),
                        endpoint_url=endpoint, bucket_name=buckets, metadata_prefix=metadata_prefix or {},
                        artefact_prefix=artefact_prefix or {}, signing=signing or {})


def test_place_as_eessi_by_default() -> None:
    placed = place(deploy({"*": "eessi-staging"}), "EESSI/software-layer", 42, REPO_ID, EESSI)
    legacy = "2023.06/software/linux/x86_64/amd/zen2/1724830000"
    assert placed == Placement("eessi-staging", ObjectKeys(f"{legacy}/{EESSI}", f"{legacy}/{EESSI}.meta.txt"),
                               f"https://eessi-staging.s3.amazonaws.com/{legacy}/{EESSI}")


def test_place_per_repository_with_signing() -> None:
    config = deploy({REPO_ID: "sw"}, {REPO_ID: "new/${github_repository}/${pull_request_number}"},
                    {"*": "meta/${pull_request_number}"}, {REPO_ID: {"key": "/keys/bot"}}, "https://s3.site")
    placed = place(config, "EESSI/software-layer", 42, REPO_ID, EESSI)
    assert placed.keys == ObjectKeys(f"new/EESSI/software-layer/42/{EESSI}", f"meta/42/{EESSI}.meta.txt",
                                     f"new/EESSI/software-layer/42/{EESSI}.sig", f"meta/42/{EESSI}.meta.txt.sig")
    assert placed.url == f"https://s3.site/sw/new/EESSI/software-layer/42/{EESSI}"
    assert placed.signing == {"key": "/keys/bot"}


@pytest.mark.parametrize(("config", "reason"), [
    (deploy({"other": "b"}), f"no bucket configured for repository {REPO_ID}"),
    (deploy({"*": "b"}, artefact_prefix={"other": "x"}), f"no artefact prefix configured for repository {REPO_ID}"),
    (deploy({"*": "b"}, metadata_prefix={"other": "x"}), f"no metadata prefix configured for repository {REPO_ID}"),
    (deploy({"*": "b"}, artefact_prefix={"*": "../escape"}), "`.` or `..` segment"),
], ids=["no-bucket", "no-artefact-prefix", "no-metadata-prefix", "bad-template"])
def test_place_refuses(config: DeployConfig, reason: str) -> None:
    with pytest.raises(NamingError) as caught:
        place(config, "EESSI/software-layer", 42, REPO_ID, EESSI)
    assert reason in str(caught.value)


_TEMPLATE = st.lists(st.sampled_from(["/", "//", ".", "..", "a", "-", "$", "${github_repository}",
                                      "$pull_request_number", "${legacy_aws_path}", "$legacy_aws_path", "${x}"]),
                     max_size=8).map("".join)


@given(_TEMPLATE, st.from_regex(r"[A-Za-z0-9._+-]{1,40}", fullmatch=True), st.integers(0, 10**6))
def test_object_prefix_never_escapes(template: str, artefact: str, number: int) -> None:
    try:
        prefix = object_prefix(template, "owner/repo", number, artefact)
    except NamingError:
        return
    segments = prefix.split("/")
    assert prefix and not prefix.startswith("/") and "//" not in prefix and not prefix.endswith("/")
    assert ".." not in segments and "." not in segments


@given(st.text(max_size=60), st.text(max_size=60))
def test_object_prefix_of_any_text(template: str, artefact: str) -> None:
    try:
        prefix = object_prefix(template, "owner/repo", 1, artefact)
    except NamingError:
        return
    assert not prefix.startswith("/") and ".." not in prefix.split("/") and "//" not in prefix

