"""The EESSI bot's `uploaded.txt`: parsed leniently, mapped to whole targets so that `once` honours it."""

from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.deploy.legacy import (
    LegacyName,
    legacy_target,
    legacy_targets,
    parse_legacy_name,
    parse_uploaded_txt,
)
from eessi_bot.core.deploy.policy import BuildTarget, History, select
from tests.unit.test_deploy_policy import ZEN2, ZEN2_GPU, cand, name, uploaded

ZEN2_NAME = "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz"
GPU_NAME = "eessi-2023.06-software-linux-x86_64-amd-zen2-accel-nvidia-cc80-1700000001.tar.gz"
SW = "eessi.io-2023.06-software"
COMPAT = "eessi.io-2023.06-compat"
NEWER = "eessi.io-2025.06-software"


@pytest.mark.parametrize(("text", "entries"), [
    ("", []),
    (f"123/{ZEN2_NAME}\n", [("123", ZEN2_NAME)]),
    (f"  123/{ZEN2_NAME}  \r\n456 / {GPU_NAME}\n", [("123", ZEN2_NAME), ("456", GPU_NAME)]),
    (f"123/{ZEN2_NAME}\n123/{ZEN2_NAME}\n", [("123", ZEN2_NAME)]),
    (f"# comment\n\nabc/{ZEN2_NAME}\n123\n/{ZEN2_NAME}\n123/\n123/a/b.tar.gz\n123/x; rm -rf /\n123/{ZEN2_NAME}",
     [("123", ZEN2_NAME)]),
    ("1/" + "x" * 2000 + f"\n2/{ZEN2_NAME}", [("2", ZEN2_NAME)]),
], ids=["empty", "one", "blanks-and-crlf", "repeat", "junk-lines-skipped", "overlong-line"])
def test_parse_uploaded_txt(text: str, entries: List[Tuple[str, str]]) -> None:
    assert parse_uploaded_txt(text) == entries


@pytest.mark.parametrize(("artefact", "parsed"), [
    (ZEN2_NAME, LegacyName("2023.06", "software", "x86_64/amd/zen2", None, 1700000000)),
    (GPU_NAME, LegacyName("2023.06", "software", "x86_64/amd/zen2", "nvidia/cc80", 1700000001)),
    ("eessi-2023.06-software-linux-aarch64-neoverse_v1-1700000002.tar.zst",
     LegacyName("2023.06", "software", "aarch64/neoverse_v1", None, 1700000002)),
    ("eessi-2023.06-compat-linux-x86_64-1700000003.tar.gz",
     LegacyName("2023.06", "compat", "x86_64", None, 1700000003)),
    ("eessi-2023.06-init-1700000004.tar.gz", LegacyName("2023.06", "init", None, None, 1700000004)),
    ("eessi-2023.06-software-linux-1700000000.tar.gz", None),
    ("eessi-2023.06-software-linux-x86_64-accel-1700000000.tar.gz", None),
    ("eessi-2023.06-software-linux-accel-nvidia-cc80-1700000000.tar.gz", None),
    ("eessi-2023.06-other-linux-x86_64-1700000000.tar.gz", None),
    ("eessi-2023.06-software-linux-x86_64-amd-zen2.tar.gz", None),
    ("stack-2023.06-software-linux-x86_64-1700000000.tar.gz", None),
    ("eessi-2023.06-init-x86_64-1700000004.tar.gz", None),
    ("eessi-2023.06-software-linux-x86_64-amd--zen2-1700000000.tar.gz", None),
], ids=["cpu", "gpu", "aarch64-zst", "compat", "init", "no-arch", "accel-without-cc", "accel-without-arch",
        "unknown-kind", "no-timestamp", "not-eessi", "init-with-arch", "empty-part"])
def test_parse_legacy_name(artefact: str, parsed: Optional[LegacyName]) -> None:
    assert parse_legacy_name(artefact) == parsed


@pytest.mark.parametrize(("artefact", "target"), [
    (ZEN2_NAME, BuildTarget(SW, "x86_64/amd/zen2")),
    (GPU_NAME, BuildTarget(SW, "x86_64/amd/zen2", "nvidia/cc80")),
    ("eessi-2023.06-init-1700000004.tar.gz", None),
    ("random.tar.gz", None),
], ids=["cpu", "gpu", "init-has-no-target", "not-eessi"])
def test_legacy_target(artefact: str, target: Optional[BuildTarget]) -> None:
    assert legacy_target(artefact, SW) == target


@pytest.mark.parametrize(("known", "repo_ids", "expected"), [
    ({"1": NEWER}, [SW, NEWER], {BuildTarget(NEWER, "x86_64/amd/zen2")}),
    ({}, [SW, COMPAT, NEWER], {BuildTarget(SW, "x86_64/amd/zen2")}),
    ({}, ["eessi-2023.06", "other"], {BuildTarget("eessi-2023.06", "x86_64/amd/zen2")}),
    ({}, ["mine", "yours"], {BuildTarget("mine", "x86_64/amd/zen2"), BuildTarget("yours", "x86_64/amd/zen2")}),
], ids=["job-cfg-known", "version-and-kind", "version-only", "every-repo-when-unsure"])
def test_legacy_targets_choose_repositories(known: Mapping[str, str], repo_ids: List[str], expected: set) -> None:
    assert legacy_targets([("1", ZEN2_NAME)], repo_ids, known) == expected


def test_once_honours_what_the_eessi_bot_uploaded() -> None:
    """A CPU upload by the EESSI bot blocks the CPU target only, never its GPU sibling."""
    entries = parse_uploaded_txt(f"99/{name(ZEN2, 1600000000)}\n")
    history = History(targets=legacy_targets(entries, [SW], {}))
    decisions = select("once", [cand(1, ZEN2), cand(2, ZEN2_GPU)], history)
    assert uploaded(decisions) == [("2", name(ZEN2_GPU, 1700000002))]


@given(st.text(max_size=3000))
def test_parse_uploaded_txt_never_raises(text: str) -> None:
    for job_id, artefact in parse_uploaded_txt(text):
        assert job_id.isdigit() and "/" not in artefact and artefact.strip() == artefact and artefact


@given(st.lists(st.tuples(st.from_regex(r"[0-9]{1,5}", fullmatch=True), st.text(max_size=80)), max_size=10),
       st.lists(st.text(max_size=20), max_size=3))
def test_legacy_targets_never_raise(entries: List[Tuple[str, str]], repo_ids: List[str]) -> None:
    for target in legacy_targets(entries, repo_ids, {}):
        assert target.repo_id in repo_ids and target.arch
