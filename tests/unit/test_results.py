"""`artefacts` of result files: every entry is kept (within limits) for the deploy to judge and report;
long descriptions are read whole. The status and description cases are in test_transitions.py
(test_parse_result)."""

from __future__ import annotations

from typing import Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.results import MAX_ARTEFACT_CHARS, MAX_ARTEFACTS, MAX_FILE_BYTES, parse_result
from tests.unit.long_results import check_build_description, result_file

GOOD = "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz"


def result(artefacts: str) -> bytes:
    return f"[RESULT]\ncomment_description = built\nstatus = SUCCESS\nartefacts = {artefacts}\n".encode()


@pytest.mark.parametrize(("artefacts", "expected"), [
    ("", ()),
    (f"\n    {GOOD}\n", (GOOD,)),
    (f"{GOOD}\n    other.tar.zst", (GOOD, "other.tar.zst")),
    (f"\n    {GOOD}\n    ../../etc/passwd\n    x.tar.gz; touch PWNED\n",
     (GOOD, "../../etc/passwd", "x.tar.gz; touch PWNED")),
    (f"\n    {GOOD}\n    {GOOD}\n", (GOOD,)),
    ("\n    a\n\n    b\n", ("a", "b")),
], ids=["none", "one", "two", "refused-names-kept", "repeat-dropped", "blank-line-skipped"])
def test_artefacts_are_kept(artefacts: str, expected: Tuple[str, ...]) -> None:
    parsed = parse_result(result(artefacts), "RESULT")
    assert parsed.artefacts == expected and parsed.problem is None


def test_an_entry_is_cut() -> None:
    parsed = parse_result(result("x" * (MAX_ARTEFACT_CHARS * 2)), "RESULT")
    assert parsed.artefacts == ("x" * MAX_ARTEFACT_CHARS,)


def test_entries_beyond_the_limit_are_ignored_and_logged() -> None:
    names = [f"a{i}.tar.gz" for i in range(MAX_ARTEFACTS + 3)]
    parsed = parse_result(result("\n    " + "\n    ".join(names)), "RESULT")
    assert parsed.artefacts == tuple(names[:MAX_ARTEFACTS])
    assert parsed.problem == f"3 artefacts beyond the first {MAX_ARTEFACTS} ignored"


@given(st.binary(max_size=2000))
def test_parse_result_never_raises(data: bytes) -> None:
    parsed = parse_result(data, "RESULT")
    assert parsed.status in ("SUCCESS", "FAILURE", "UNKNOWN")
    assert len(parsed.artefacts) <= MAX_ARTEFACTS
    assert all(a and a == a.strip() and len(a) <= MAX_ARTEFACT_CHARS for a in parsed.artefacts)


@given(st.lists(st.text(max_size=40), max_size=10))
def test_artefact_lines_never_raise(lines: list) -> None:
    text = "\n    ".join(line.replace("\r", " ") for line in lines)
    parsed = parse_result(result(text), "RESULT")
    assert len(set(parsed.artefacts)) == len(parsed.artefacts)


@pytest.mark.parametrize(("modules", "usable"), [(150, True), (3_000, True), (15_000, False)],
                         ids=["12k-characters", "220k-characters", "over-the-file-cap"])
def test_long_descriptions_are_read_whole(modules: int, usable: bool) -> None:
    """The finished row shortens what it shows, on a tag boundary; reading keeps all of it (a cut at
    4,000 characters left an EESSI description with open tags). Files over MAX_FILE_BYTES are not read."""
    data = result_file(check_build_description(modules))
    parsed = parse_result(data, "RESULT")
    assert (len(data) <= MAX_FILE_BYTES) is usable
    if usable:
        assert (parsed.status, parsed.description) == ("SUCCESS", check_build_description(modules))
    else:
        assert (parsed.status, parsed.description) == ("UNKNOWN", None)
        assert parsed.problem == f"larger than {MAX_FILE_BYTES} bytes"
