"""The mistakes a site admin makes in app.cfg, each answered by `eessi-bot check-config` with one exact
line (severity, file:line, what to write instead) and an exit status that says whether the bot can
start: 1 with errors, 0 with warnings and notes only."""

from __future__ import annotations

import json
import os
import re
import string
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from eessi_bot.cli.main import main
from eessi_bot.core.config import Severity, parse_config
from eessi_bot.core.config.logins import is_login, login_problems
from eessi_bot.core.config.problems import caret_excerpt
from eessi_bot.core.config.typos import edit_distance, near_misses
from tests.fakes.site import write_site

NODES = """{
    "cpu_zen2": {
        "cpu_subdir": "x86_64/amd/zen2",
        "slurm_params": "-p zen2",
        "repo_targets": ["eessi.io-2023.06-software"]
    },
    "cpu_zen4": {
        "cpu_subdir": "x86_64/amd/zen4",
        "repo_targets": ["eessi.io-2023.06-software"]
    }
}"""
"""node_type_map as EESSI writes it (one field a line), for the JSON mistakes."""


def nodes(old: str, new: str) -> Dict[str, Any]:
    assert old in NODES
    return {"node_type_map": NODES.replace(old, new, 1)}


Where = Tuple[str, Optional[str]]
"""The text of the line a problem is on, and the text its caret points at (None: no column)."""

# (id, write_site arguments, where, expected output (`{file}`, `{line}`, `{col}` filled in), exit status)
MISTAKES: List[Tuple[str, Dict[str, Any], Where, str, int]] = [
    ("comma-and-space", {"build_permission": "maintainer, alice"}, ("build_permission", None),
     "{file}:{line}: error: [buildenv] build_permission = 'maintainer, alice': `maintainer,`: logins are separated by "
     "spaces, not commas: `maintainer alice`", 1),
    ("comma-only", {"command_permission": "alice,bob"}, ("command_permission", None),
     "{file}:{line}: error: [bot_control] command_permission = 'alice,bob': `alice,bob`: logins are separated by "
     "spaces, not commas: `alice bob`", 1),
    ("at-sign", {"command_permission": "@alice"}, ("command_permission", None),
     "{file}:{line}: error: [bot_control] command_permission = '@alice': `@alice`: write the login without @: "
     "`alice`", 1),
    ("semicolon", {"build_permission": "alice;bob"}, ("build_permission", None),
     "{file}:{line}: error: [buildenv] build_permission = 'alice;bob': `alice;bob`: logins are separated by spaces, "
     "not semicolons: `alice bob`", 1),
    ("json-list", {"build_permission": '["alice", "bob"]'}, ("build_permission", None),
     "{file}:{line}: error: [buildenv] build_permission = '[\"alice\", \"bob\"]': logins are separated by spaces, "
     "not written as a list: `alice bob`", 1),
    ("deploy-at-signs", {"extra": "\n[deploycfg]\ndeploy_permission = @alice @bob\n"}, ("deploy_permission", None),
     "{file}:{line}: error: [deploycfg] deploy_permission = '@alice @bob': `@alice` `@bob`: write the logins "
     "without @: `alice bob`", 1),
    ("e-mail", {"command_permission": "alice@example.org"}, ("command_permission", None),
     "{file}:{line}: error: [bot_control] command_permission = 'alice@example.org': `alice@example.org`: is an "
     "e-mail address, not GitHub logins (write the GitHub login shown on the person's profile page)", 1),
    ("dot", {"command_permission": "maintainer alice.smith"}, ("command_permission", None),
     "{file}:{line}: error: [bot_control] command_permission = 'maintainer alice.smith': `alice.smith`: cannot be "
     "a GitHub login (a GitHub login is letters, digits and single hyphens, not at either end, at most 39 "
     "characters; a GitHub App's account is name[bot])", 1),
    ("eessi-nobody-placeholder", {"build_permission": "-NOT_ALLOWED_GH_ACCOUNT_NAME-"}, ("build_permission", None),
     "{file}:{line}: warning: [buildenv] build_permission = '-NOT_ALLOWED_GH_ACCOUNT_NAME-': "
     "`-NOT_ALLOWED_GH_ACCOUNT_NAME-`: cannot be a GitHub login, so it allows nobody (a GitHub login is letters, "
     "digits and single hyphens, not at either end, at most 39 characters; a GitHub App's account is name[bot]; "
     "leave the value empty to allow nobody)", 0),
    ("key-typo", {"extra": "\n[job_manager]\npoll_intervall = 30\n"}, ("poll_intervall", None),
     "{file}:{line}: error: [job_manager] poll_intervall: unknown key; did you mean `poll_interval`? (as written it "
     "is ignored and the setting meant keeps its default)", 1),
    ("key-swapped-letters", {"buildenv_extra": "slurm_parmas = --mem 4G"}, ("slurm_parmas", None),
     "{file}:{line}: error: [buildenv] slurm_parmas: unknown key; did you mean `slurm_params`? (as written it is "
     "ignored and the setting meant keeps its default)", 1),
    ("section-typo", {"extra": "\n[buildenvv]\nlocal_max_jobs = 2\n"}, ("[buildenvv]", None),
     "{file}:{line}: error: [buildenvv]: unknown section; did you mean `[buildenv]`? (the settings in it are "
     "ignored as written)", 1),
    ("section-case", {"extra": "\n[Job_Manager]\npoll_interval = 30\n"}, ("[Job_Manager]", None),
     "{file}:{line}: error: [Job_Manager]: unknown section; did you mean `[job_manager]`? (the settings in it are "
     "ignored as written)", 1),
    ("other-tools-key", {"buildenv_extra": "colour = blue"}, ("colour", None),
     "{file}:{line}: note: [buildenv] colour: unknown key, ignored", 0),
    ("other-tools-section", {"extra": "\n[git]\nuser = bot\n"}, ("[git]", None),
     "{file}:{line}: note: [git]: unknown section, ignored", 0),
    ("old-eessi-misspelling", {"extra": "\n[new_job_comments]\nawaits_lauch = job awaits launch\n"},
     ("awaits_lauch", None), "{file}:{line}: note: [new_job_comments] awaits_lauch: is not read: EESSI bot "
     "versions of April 2023 read this misspelling; the setting is awaits_launch", 0),
    ("removed-key", {"extra": "\n[submitted_job_comments]\ninitial_comment = New job\n"}, ("initial_comment", None),
     "{file}:{line}: error: [submitted_job_comments] initial_comment: is no longer supported (was replaced in EESSI "
     "bot v0.9.0 by new_job_instance_repo, build_on_arch, build_for_arch and jobdir (all have defaults, so simply "
     "remove it))", 1),
    ("json-missing-comma", nodes('"x86_64/amd/zen2",', '"x86_64/amd/zen2"'), ('amd/zen2"', "\n"),
     "{file}:{line}:{col}: error: [architecturetargets] node_type_map: is not valid JSON: a comma is missing here"
     "\n    \"cpu_subdir\": \"x86_64/amd/zen2\"\n" + " " * 35 + "^", 1),
    ("json-trailing-comma", nodes('software"]\n    }\n}', 'software"],\n    }\n}'), ('software"],', ","),
     "{file}:{line}:{col}: error: [architecturetargets] node_type_map: is not valid JSON: a comma before `}}`: JSON "
     "allows no trailing comma\n    \"repo_targets\": [\"eessi.io-2023.06-software\"],\n"
     + " " * 49 + "^", 1),
    ("json-single-quotes", nodes('"cpu_subdir": "x86_64/amd/zen4"', "'cpu_subdir': \"x86_64/amd/zen4\""),
     ("'cpu_subdir'", "'"), "{file}:{line}:{col}: error: [architecturetargets] node_type_map: is not valid JSON: "
     "single quotes: JSON strings and names use double quotes\n    'cpu_subdir': \"x86_64/amd/zen4\",\n    ^", 1),
    ("json-unclosed-brace", nodes("    }\n}", "    }\n"), ("node_type_map = {", "{"),
     "{file}:{line}:{col}: error: [architecturetargets] node_type_map: is not valid JSON: this `{{` is never closed: "
     "a `}}` is missing\n    node_type_map = {{\n" + " " * 20 + "^", 1),
    ("json-python-none", nodes('"slurm_params": "-p zen2"', '"slurm_params": None'), ('"slurm_params": None', "N"),
     "{file}:{line}:{col}: error: [architecturetargets] node_type_map: is not valid JSON: `None` is Python; JSON "
     "writes `null`\n    \"slurm_params\": None,\n" + " " * 20 + "^", 1),
    ("json-one-line-value", {"extra": '\n[deploycfg]\nbucket_name = {"eessi.io-2023.06-software": "staging",}\n'},
     ("bucket_name", ","), "{file}:{line}:{col}: error: [deploycfg] bucket_name: is not valid JSON: a comma before "
     "`}}`: JSON allows no trailing comma\n    bucket_name = {{\"eessi.io-2023.06-software\": \"staging\",}}\n"
     + " " * 57 + "^", 1),
]


def check_config(cfg: Path, capsys: pytest.CaptureFixture[str], stderr: str = "") -> Tuple[int, str]:
    """check-config's exit status and report; `stderr` is what it must print there (nothing, mostly)."""
    status = main(["check-config", "--config", str(cfg)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.err == stderr
    return status, captured.out


def place(cfg: Path, where: Where) -> Tuple[int, int]:
    """The 1-based line holding where[0] and the 1-based column of where[1] in it ("\\n": just after the
    line's end; 0: no column)."""
    lines = cfg.read_text().splitlines(keepends=True)
    line = next(number for number, text in enumerate(lines, 1) if where[0] in text)
    return line, (lines[line - 1].index(where[1]) + 1 if where[1] is not None else 0)


@pytest.mark.parametrize(("arguments", "where", "expected", "status"), [m[1:] for m in MISTAKES],
                         ids=[m[0] for m in MISTAKES])
def test_mistake_gets_one_exact_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: Dict[str, Any],
                                       where: Where, expected: str, status: int) -> None:
    cfg = write_site(tmp_path, **arguments)
    line, column = place(cfg, where)
    code, out = check_config(cfg, capsys)
    assert expected.format(file=cfg, line=line, col=column) + "\n" in out, out
    assert code == status, out
    assert out.rstrip().endswith(f"{cfg}: OK" if status == 0 else "the bot cannot start with this configuration")


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "app.cfg"


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "app.cfg").mkdir()
    return tmp_path / "app.cfg"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "site").write_text("")
    return tmp_path / "site" / "app.cfg"


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "app.cfg")
    return tmp_path / "app.cfg"


def _binary(tmp_path: Path) -> Path:
    (tmp_path / "app.cfg").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return tmp_path / "app.cfg"


def _latin1(tmp_path: Path) -> Path:
    cfg = write_site(tmp_path, app_name="cafe")
    cfg.write_bytes(cfg.read_bytes().replace(b"app_name = cafe", "app_name = café".encode("latin-1")))
    return cfg


# (id, how the file is made, the one line check-config prints)
UNREADABLE = [
    ("missing", _missing, "{file}: error: cannot read the configuration file: No such file or directory (copy "
     "app.cfg.example to app.cfg, or pass --config PATH)"),
    ("directory", _directory, "{file}: error: cannot read the configuration file: Is a directory (pass --config "
     "PATH of the app.cfg file)"),
    ("fifo", _fifo, "{file}: error: cannot read the configuration file: it is not a regular file (pass --config "
     "PATH of the app.cfg file)"),
    ("path-through-a-file", _under_a_file, "{file}: error: cannot read the configuration file: Not a directory "
     "(pass --config PATH of a readable app.cfg file)"),
    ("binary", _binary, "{file}: error: cannot read the configuration file: it is not UTF-8 text but a binary file "
     "(pass --config PATH of the app.cfg file)"),
    ("latin-1", _latin1, "{file}:3: error: cannot read the configuration file: it is not UTF-8 text: it holds byte "
     "0xe9 (save the file as UTF-8: iconv -f latin1 -t utf-8)"),
]


@pytest.mark.parametrize(("make", "expected"), [u[1:] for u in UNREADABLE], ids=[u[0] for u in UNREADABLE])
def test_unreadable_file_is_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any,
                                           expected: str) -> None:
    """Not a report (stdout stays empty) but one line on stderr that says what to do."""
    cfg = make(tmp_path)
    code, out = check_config(cfg, capsys, stderr=expected.format(file=cfg) + "\n")
    assert out == ""
    assert code == 1


NOT_INI = [
    ("key-before-section", "app_id = 1\n[github]\n", "{file}:1: error: is not a valid INI file: a setting comes "
     "before the first [section] header"),
    ("key-twice", "[github]\napp_id = 1\n\napp_id = 2\n", "{file}:4: error: is not a valid INI file: [github] app_id "
     "is set a second time; keep one"),
    ("section-twice", "[github]\n[bot]\n[github]\n", "{file}:3: error: is not a valid INI file: [github] appears a "
     "second time; merge the two sections"),
    ("stray-lines", "[github]\napp_id = 1\nnot a setting\n[bot]\nnor this\n", "{file}:3: error: is not a valid INI "
     "file: this line is neither a [section], a 'key = value' nor an indented continuation of a value\n{file}:5: "
     "error: is not a valid INI file: this line is neither a [section], a 'key = value' nor an indented continuation "
     "of a value"),
]


@pytest.mark.parametrize(("text", "expected"), [n[1:] for n in NOT_INI], ids=[n[0] for n in NOT_INI])
def test_text_that_is_not_ini_is_named_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                               expected: str) -> None:
    cfg = tmp_path / "app.cfg"
    cfg.write_text(text)
    code, out = check_config(cfg, capsys)
    count = expected.count("\n") + 1
    summary = f"{cfg}: {count} error(s); the bot cannot start with this configuration"
    assert out == expected.format(file=cfg) + "\n" + summary + "\n"
    assert code == 1


VALID_LOGINS = "alice bob-smith a1 A-B-C mona-cat_octo dependabot[bot] github-actions[bot] " + "x" * 39


def test_valid_logins_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_site(tmp_path, command_permission=VALID_LOGINS, build_permission="* maintainer")
    code, out = check_config(cfg, capsys)
    assert code == 0, out
    assert "command_permission" not in out.replace("command permission:  ", "")
    assert "note: [buildenv] build_permission = '* maintainer': '*' allows everyone" in out


_HANDLES = st.from_regex(r"[A-Za-z0-9]{1,6}(-[A-Za-z0-9]{1,6}){0,4}", fullmatch=True)
_LOGINS = _HANDLES | _HANDLES.map(lambda h: h + "[bot]") | _HANDLES.map(lambda h: h + "_corp")


@given(st.lists(_LOGINS, min_size=1, max_size=5))
def test_logins_are_accepted(logins: List[str]) -> None:
    assert all(is_login(login) for login in logins)
    assert login_problems(" ".join(logins)) == []


@given(st.lists(_HANDLES, min_size=2, max_size=5, unique=True), st.sampled_from([",", ", ", " ,", ";", "; "]))
def test_separators_are_errors_that_say_what_to_write(logins: List[str], separator: str) -> None:
    problems = login_problems(separator.join(logins))
    kind = "commas" if "," in separator else "semicolons"
    assert [(p.error, p.message.split(": ", 1)[1]) for p in problems] == [
        (True, f"logins are separated by spaces, not {kind}: `{' '.join(logins)}`")]


@given(_HANDLES)
def test_at_sign_is_an_error_naming_the_login(login: str) -> None:
    assert [(p.error, p.message) for p in login_problems("@" + login)] == [
        (True, f"`@{login}`: write the login without @: `{login}`")]


@given(st.text(min_size=1, max_size=45).filter(lambda t: not t.isspace()))
def test_an_entry_is_a_login_or_gets_an_answer(entry: str) -> None:
    """Whatever is written, either it can be a login or some problem names it; only login characters
    (letters, digits, '-', '_') make a mere warning."""
    problems = login_problems(entry)
    words = entry.split()
    if all(w == "*" or is_login(w) for w in words):
        assert problems == []
        return
    assert problems
    if not any(p.error for p in problems):
        assert all(re.fullmatch(r"[A-Za-z0-9_*\[\]-]+", w) for w in words), problems


@pytest.mark.parametrize(("name", "known", "expected"), [
    ("poll_intervall", ["poll_interval", "poll_command"], ["poll_interval"]),
    ("poll_intreval", ["poll_interval"], ["poll_interval"]),
    ("httpx_proxy", ["http_proxy", "https_proxy"], ["http_proxy", "https_proxy"]),
    ("GitHub", ["github", "bot"], ["github"]),
    ("git", ["github", "bot"], []),
    ("bots", ["bot"], ["bot"]),
    ("colour", ["chatlevel", "command_permission"], []),
    ("max_manager_iterations_default", ["poll_interval", "job_ids_dir"], []),
], ids=["extra-letter", "swapped-letters", "tie", "case", "short-name-two-edits", "short-name-one-edit",
        "unrelated", "old-eessi-key"])
def test_near_misses(name: str, known: List[str], expected: List[str]) -> None:
    assert near_misses(name, known) == expected


@given(st.text(alphabet="abc_", max_size=8), st.text(alphabet="abc_", max_size=8))
def test_edit_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert edit_distance(a, b) == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))
    assert (edit_distance(a, b) == 0) is (a == b)


@pytest.mark.parametrize(("text", "column", "expected"), [
    ("    \"a\": 1,", 13, ["    \"a\": 1,", "            ^"]),
    ("\t\"a\"", 2, ["    \"a\"", "    ^"]),
    ("x" * 100 + "!" + "y" * 100, 101, ["    ..." + "x" * 50 + "!" + "y" * 49 + "...", "    " + " " * 53 + "^"]),
], ids=["indentation-dropped", "tab", "long-line-cut-around-the-caret"])
def test_caret_excerpt(text: str, column: int, expected: List[str]) -> None:
    assert caret_excerpt(text, column) == expected


_SCALARS = st.integers(0, 99) | st.booleans() | st.none() | st.text(alphabet=string.ascii_letters + "_-/.",
                                                                    max_size=8)
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=6), inner, max_size=3), max_leaves=8)


def _invalid(doc: str) -> bool:
    try:
        json.loads(doc)
    except json.JSONDecodeError:
        return True
    return False


@given(value=st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=4), _JSON, min_size=1, max_size=3),
       indent=st.sampled_from([None, 1, 2, 4]), base=st.sampled_from([" ", "    ", "\t", "  \t", " " * 12]),
       on_key_line=st.booleans(), at=st.integers(0, 10_000), edit=st.sampled_from([*",{}[]:\"' x", ""]))
def test_json_errors_point_into_the_values_lines(value: Dict[str, Any], indent: Optional[int], base: str,
                                                 on_key_line: bool, at: int, edit: str) -> None:
    """Any JSON mistake (one character inserted or deleted), in any indentation, is reported at a line
    and column of the file inside the value's lines, with that line as the excerpt."""
    doc = json.dumps(value, indent=indent)
    at %= len(doc) + 1
    broken = doc[:at] + edit + doc[at:] if edit else doc[:at] + doc[at + 1:]
    assume(broken.strip() and _invalid(broken))
    lines = broken.split("\n")
    head = f"node_type_map = {lines.pop(0)}" if on_key_line else "node_type_map ="
    text = "[github]\napp_id = 1\n\n[architecturetargets]\n" + "\n".join([head] + [base + x for x in lines])
    text += "\n\n[repo_targets]\nrepos_cfg_dir = /r\n"
    _config, problems = parse_config(text, {}, 1)
    found = [p for p in problems if p.key == "node_type_map" and p.message.startswith("is not valid JSON: ")]
    assert len(found) == 1, [p.render() for p in problems]
    problem, file_lines = found[0], text.split("\n")
    assert problem.severity is Severity.ERROR and problem.line is not None and problem.column is not None
    assert 5 <= problem.line <= 5 + len(lines)
    assert problem.excerpt == file_lines[problem.line - 1]
    assert 1 <= problem.column <= len(problem.excerpt) + 1


def test_repos_cfg_json_error_is_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_site(tmp_path)
    repos = tmp_path / "repos" / "repos.cfg"
    repos.write_text(repos.read_text().replace('"/etc/cvmfs/keys/eessi.io/eessi.io.pub"}',
                                               "'/etc/cvmfs/keys/eessi.io/eessi.io.pub'}"))
    code, out = check_config(cfg, capsys)
    assert code == 1
    assert (f"{repos}:5:39: error: [eessi.io-2023.06-software] config_map: is not valid JSON: single quotes: JSON "
            "strings and names use double quotes\n    config_map = {\"eessi.io/eessi.io.pub\":'/etc/cvmfs/keys/"
            "eessi.io/eessi.io.pub'}\n" + " " * 42 + "^\n") in out, out
