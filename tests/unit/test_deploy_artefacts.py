"""Artefact names from result files: what the deploy accepts, what it refuses and why."""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.deploy.artefacts import (
    MAX_NAME_BYTES,
    SHELL_METACHARACTERS,
    artefact_timestamp,
    check_artefact,
)

EESSI = "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz"


@pytest.mark.parametrize("name", [
    EESSI,
    "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.zst",
    "eessi-2023.06-software-linux-x86_64-amd-zen2-accel-nvidia-cc80-1700000000.tar.gz",
    "stack_v1.2+build.sqfs",
    "a",
    "a..b.tar.gz",
    "x" * MAX_NAME_BYTES,
], ids=["eessi-gz", "eessi-zst", "eessi-accel", "other-extension", "one-letter", "double-dot-inside",
        "255-bytes"])
def test_usable_names(name: str) -> None:
    assert check_artefact(name) is None


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("../../etc/passwd", "path"),
    ("dir/a.tar.gz", "path"),
    ("..", "path"),
    (".", "path"),
    ("x.tar.gz; touch PWNED", "shell metacharacter (U+003B SEMICOLON)"),
    ("two words.tar.gz", "space (U+0020 SPACE)"),
    ("x.tar.gz;touch", "shell metacharacter (U+003B SEMICOLON)"),
    ("$(id).tar.gz", "shell metacharacter (U+0024 DOLLAR SIGN)"),
    ("a`id`.tar.gz", "shell metacharacter (U+0060 GRAVE ACCENT)"),
    ("a|b.tar.gz", "shell metacharacter (U+007C VERTICAL LINE)"),
    ("a\\b", "shell metacharacter"),
    ("a\tb", "control character (U+0009)"),
    ("a\x00b", "control character (U+0000)"),
    ("a\u202eb", "control character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ("a\u00a0b", "space (U+00A0 NO-BREAK SPACE)"),
    ("caf\u00e9.tar.gz", "letters, digits and . _ + - only"),
    ("a:b", "letters, digits and . _ + - only"),
    ("-rf.tar.gz", "starts with `-`"),
    (".hidden.tar.gz", "starts with `.`"),
    ("x" * (MAX_NAME_BYTES + 1), "longer than 255 bytes"),
], ids=["empty", "traversal", "subdir", "dotdot", "dot", "injection", "space", "semicolon", "command-subst",
        "backtick", "pipe", "backslash", "tab", "nul", "bidi-override", "nbsp", "non-ascii", "colon",
        "leading-dash", "leading-dot", "256-bytes"])
def test_refused_names(name: str, reason: str) -> None:
    refusal = check_artefact(name)
    assert refusal is not None and reason in refusal


def test_reasons_are_safe_to_show() -> None:
    """A reason names the character by code point: no raw `|`, backtick or newline reaches a table."""
    for ch in "|`\n\r":
        reason = check_artefact(f"a{ch}b")
        assert reason is not None and ch not in reason


@pytest.mark.parametrize(("name", "timestamp"), [
    (EESSI, 1700000000),
    ("eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.zst", 1700000000),
    ("eessi-2023.06-compat-linux-x86_64-1700000001.tar.xz", 1700000001),
    ("payload-42", 42),
    ("payload-42.sqfs", 42),
    ("payload.tar.gz", None),
    ("payload-v2.tar.gz", None),
    ("payload-.tar.gz", None),
    ("-1700000000.tar.gz", None),
    ("payload-12x4.tar.gz", None),
    ("payload-" + "9" * 19 + ".tar.gz", None),
    ("payload-\u0661\u0662.tar.gz", None),
    ("", None),
], ids=["eessi-gz", "eessi-zst", "compat-xz", "no-extension", "other-extension", "no-dash", "word",
        "empty-field", "no-payload", "not-digits", "too-long", "arabic-digits", "empty"])
def test_artefact_timestamp(name: str, timestamp: Optional[int]) -> None:
    assert artefact_timestamp(name) == timestamp


@given(st.text(max_size=300))
def test_never_accepts_a_path_or_shell_metacharacter(name: str) -> None:
    if check_artefact(name) is None:
        assert "/" not in name and not (set(name) & SHELL_METACHARACTERS)
        assert name not in ("", ".", "..") and not name.startswith(("-", "."))
        assert not any(ch.isspace() or ord(ch) < 32 for ch in name)
        assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


@given(st.text(alphabet=st.sampled_from(sorted(SHELL_METACHARACTERS | {"/", " ", "\n"})), min_size=1),
       st.text(alphabet="abc.-_", max_size=20))
def test_a_metacharacter_anywhere_is_refused(bad: str, good: str) -> None:
    assert check_artefact(good + bad + good) is not None


@given(st.text(max_size=300))
def test_artefact_timestamp_never_raises(name: str) -> None:
    stamp = artefact_timestamp(name)
    assert stamp is None or stamp >= 0
