"""Every `eessi-bot` command, run the wrong way: one or two plain lines, a documented exit status, never a
traceback (issue 14). `--debug` is the way to the traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from eessi_bot.cli.main import main
from eessi_bot.cli.runtime import DataDirLock
from tests.fakes.site import write_site


@dataclass(frozen=True)
class Mistake:
    id: str
    args: List[str]
    status: int
    message: str
    """How stderr's first line starts once `@name` places are filled in; for argparse's refusals (usage
    first), its last line."""


def invoke(argv: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(str(exc.code))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def places(tmp_path: Path) -> Iterator[Dict[str, str]]:
    """Files and ports of every wrong kind, by the names the table uses."""
    cfg = write_site(tmp_path / "site")
    garbage = write_site(tmp_path / "garbage")
    (tmp_path / "garbage" / "state").mkdir()
    (tmp_path / "garbage" / "state" / "eessi-bot.sqlite3").write_bytes(b"not a database " * 100)
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "binary").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "notjson").write_text("{'headers': {}}\n")
    (tmp_path / "truncated").write_text('{"headers": {"x-github-event": "issue_comment"},\n "payload": {"action": ')
    (tmp_path / "array.json").write_text("[1, 2]")
    (tmp_path / "bare.json").write_text(json.dumps({"action": "created", "comment": {"body": "bot: help"}}))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    yield {"@cfg": str(cfg), "@site": str(tmp_path / "site"), "@garbage": str(garbage),
           "@missing": str(tmp_path / "nope.json"),
           "@dir": str(tmp_path / "a-dir"), "@binary": str(tmp_path / "binary"), "@fifo": str(tmp_path / "fifo"),
           "@notjson": str(tmp_path / "notjson"), "@truncated": str(tmp_path / "truncated"),
           "@array": str(tmp_path / "array.json"), "@bare": str(tmp_path / "bare.json"),
           "@busy": str(busy.getsockname()[1]),
           "@db": str(tmp_path / "garbage" / "state" / "eessi-bot.sqlite3"), "@closed": str(closed_port)}
    busy.close()


def fill(text: str, places: Dict[str, str]) -> str:
    for name in sorted(places, key=len, reverse=True):
        text = text.replace(name, places[name])
    return text


CONFIG_ERRORS = "the configuration has errors; run 'eessi-bot check-config' for details"

MISTAKES = [
    # -- the command line itself --------------------------------------------------------------------------
    Mistake("no-command", [], 2, "eessi-bot: error: the following arguments are required: command"),
    Mistake("unknown-command", ["frobnicate"], 2, "eessi-bot: error: argument command: invalid choice: 'frobnicate'"),
    Mistake("unknown-option", ["jobs", "--frob"], 2, "eessi-bot: error: unrecognized arguments: --frob"),
    # -- serve, event-handler, job-manager ----------------------------------------------------------------
    Mistake("serve-port-in-use", ["serve", "-c", "@cfg", "--port", "@busy"], 2,
            "eessi-bot serve: port @busy on 127.0.0.1 is in use (another eessi-bot or another service): stop it "
            "or choose another --port"),
    Mistake("event-handler-port-in-use", ["event-handler", "-c", "@cfg", "--port", "@busy"], 2,
            "eessi-bot event-handler: port @busy on 127.0.0.1 is in use (another eessi-bot or another service): "
            "stop it or choose another --port"),
    Mistake("serve-foreign-address", ["serve", "-c", "@cfg", "--host", "192.0.2.1", "--port", "0"], 2,
            "eessi-bot serve: 192.0.2.1 is not an address of this machine: pass --host 127.0.0.1 (behind a "
            "reverse proxy) or an address this machine has"),
    Mistake("serve-port-too-big", ["serve", "-c", "@cfg", "--port", "70000"], 2,
            "eessi-bot serve: error: argument --port: '70000' is not a port number (0 to 65535)"),
    Mistake("serve-port-not-a-number", ["serve", "-c", "@cfg", "--port", "http"], 2,
            "eessi-bot serve: error: argument --port: 'http' is not a port number (0 to 65535)"),
    Mistake("serve-missing-config", ["serve", "-c", "@missing"], 2,
            "eessi-bot serve: @missing: error: cannot read the configuration file: No such file or directory"),
    Mistake("serve-config-is-a-directory", ["serve", "-c", "@dir"], 2,
            "eessi-bot serve: @dir: error: cannot read the configuration file: Is a directory"),
    Mistake("serve-already-running", ["serve", "-c", "@cfg", "--port", "0"], 2,
            "eessi-bot serve: another eessi-bot process (pid @pid) uses @site/state; stop it first"),
    Mistake("serve-not-a-database", ["serve", "-c", "@garbage", "--port", "0"], 2,
            "eessi-bot serve: cannot use the database @db: file is not a database (is [bot] data_dir this "
            "bot's directory?)"),
    Mistake("job-manager-missing-config", ["job-manager", "-c", "@missing"], 2,
            "eessi-bot job-manager: @missing: error: cannot read the configuration file: No such file or "
            "directory"),
    Mistake("job-manager-already-running", ["job-manager", "-c", "@cfg"], 2,
            "eessi-bot job-manager: another eessi-bot process (pid @pid) uses @site/state; stop it first"),
    # -- replay -------------------------------------------------------------------------------------------
    Mistake("replay-missing-file", ["replay", "-c", "@cfg", "@missing", "--dry-run"], 2,
            "eessi-bot replay: delivery file @missing does not exist"),
    Mistake("replay-directory", ["replay", "-c", "@cfg", "@dir", "--dry-run"], 2,
            "eessi-bot replay: delivery file @dir is a directory, not a file"),
    Mistake("replay-fifo", ["replay", "-c", "@cfg", "@fifo", "--dry-run"], 2,
            "eessi-bot replay: delivery file @fifo is not a regular file"),
    Mistake("replay-binary", ["replay", "-c", "@cfg", "@binary", "--dry-run"], 2,
            "eessi-bot replay: delivery file @binary is not UTF-8 text (byte 1 is not): is it the right file?"),
    Mistake("replay-single-quotes", ["replay", "-c", "@cfg", "@notjson", "--dry-run"], 2,
            "eessi-bot replay: delivery file @notjson is not valid JSON: Expecting property name enclosed in "
            "double quotes at line 1 column 2"),
    Mistake("replay-truncated", ["replay", "-c", "@cfg", "@truncated", "--dry-run"], 2,
            "eessi-bot replay: delivery file @truncated is not valid JSON: Expecting value at line 2 column 24"),
    Mistake("replay-not-an-object", ["replay", "-c", "@cfg", "@array", "--dry-run"], 2,
            'eessi-bot replay: @array does not hold a JSON object (a delivery is {"headers": ..., "payload": '
            "...} or a bare payload)"),
    Mistake("replay-bare-payload-without-event", ["replay", "-c", "@cfg", "@bare", "--dry-run"], 2,
            "eessi-bot replay: @bare: cannot tell the event type; pass --event (e.g. issue_comment)"),
    Mistake("replay-url-closed-port", ["replay", "-c", "@cfg", "@bare", "--event", "issue_comment", "--url",
                                       "http://127.0.0.1:@closed/"], 2,
            "eessi-bot replay: no bot answers at http://127.0.0.1:@closed/ (Connection refused): is 'eessi-bot "
            "serve' running there?"),
    Mistake("replay-url-without-scheme", ["replay", "-c", "@cfg", "@bare", "--event", "issue_comment", "--url",
                                          "127.0.0.1:3000"], 2,
            "eessi-bot replay: --url 127.0.0.1:3000: give the bot's address as http://HOST:PORT/ (e.g. "
            "http://127.0.0.1:3000/)"),
    Mistake("replay-missing-config", ["replay", "-c", "@missing", "@bare"], 2,
            "eessi-bot replay: @missing: error: cannot read the configuration file: No such file or directory"),
    Mistake("replay-without-file", ["replay", "-c", "@cfg"], 2,
            "eessi-bot replay: error: the following arguments are required: delivery"),
    # -- admin commands -----------------------------------------------------------------------------------
    Mistake("jobs-no-database", ["jobs", "-c", "@cfg"], 2,
            "eessi-bot jobs: no database at @site/state/eessi-bot.sqlite3: has the bot run with this "
            "configuration ([bot] data_dir)?"),
    Mistake("jobs-bad-pr", ["jobs", "--pr", "-3", "-c", "@cfg"], 2,
            "eessi-bot jobs: error: argument --pr: '-3' is not a PR number"),
    Mistake("jobs-config-binary", ["jobs", "-c", "@binary"], 2,
            "eessi-bot jobs: @binary: error: cannot read the configuration file: it is not UTF-8 text"),
    Mistake("cleanup-no-database", ["cleanup", "--pr", "1", "-c", "@cfg"], 2,
            "eessi-bot cleanup: no database at @site/state/eessi-bot.sqlite3: has the bot run with this "
            "configuration ([bot] data_dir)?"),
    Mistake("cleanup-missing-config", ["cleanup", "--pr", "1", "-c", "@missing"], 2,
            "eessi-bot cleanup: @missing: error: cannot read the configuration file: No such file or directory"),
    Mistake("jobs-not-a-database", ["jobs", "-c", "@garbage"], 2,
            "eessi-bot jobs: cannot read the database @db: file is not a database"),
    Mistake("adopt-not-a-database", ["adopt", "-c", "@garbage", "--dry-run"], 2,
            "eessi-bot adopt: cannot use the database @db: file is not a database (is [bot] data_dir this "
            "bot's directory?)"),
    Mistake("adopt-missing-config", ["adopt", "-c", "@missing", "--dry-run"], 2,
            "eessi-bot adopt: @missing: error: cannot read the configuration file: No such file or directory"),
    # -- check-config reports instead of stopping (status 1: the configuration has errors) ----------------
    Mistake("check-config-missing", ["check-config", "-c", "@missing"], 1,
            "@missing: error: cannot read the configuration file: No such file or directory"),
    Mistake("check-config-fifo", ["check-config", "-c", "@fifo"], 1,
            "@fifo: error: cannot read the configuration file: it is not a regular file"),
    # -- demo and try -------------------------------------------------------------------------------------
    Mistake("demo-unknown-option", ["demo", "--fast"], 2, "eessi-bot: error: unrecognized arguments: --fast"),
    Mistake("try-without-repo", ["try", "--branch", "b", "bot: help"], 2,
            "eessi-bot try: error: the following arguments are required: --repo"),
]


@pytest.mark.parametrize("case", MISTAKES, ids=lambda m: m.id)
def test_wrong_invocation_is_answered_plainly(case: Mistake, places: Dict[str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    lock = None
    if "already-running" in case.id:
        lock = DataDirLock(Path(places["@site"]) / "state", "job-manager")
        lock.acquire()
    try:
        code, out, err = invoke([fill(arg, places) for arg in case.args], capsys)
    finally:
        if lock is not None:
            lock.release()
    expected = fill(case.message, {**places, "@pid": str(os.getpid())})
    lines = err.splitlines()
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == case.status, err
    if lines and lines[0].startswith("usage: "):
        assert lines[-1].startswith(expected), err
    else:
        assert lines and lines[0].startswith(expected) and len(lines) <= 2, err


def test_at_least_thirty_wrong_invocations_are_covered() -> None:
    assert len(MISTAKES) >= 30 and len({m.args[0] for m in MISTAKES if m.args}) >= 9


def test_debug_shows_the_traceback(places: Dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["replay", "--debug", "-c", places["@cfg"], places["@missing"], "--dry-run"], capsys)
    assert code == 2
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == f"eessi-bot replay: delivery file {places['@missing']} does not exist"


def test_an_unexpected_error_is_one_line_and_status_70(places: Dict[str, str], capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from eessi_bot.cli import replay

    def broken(*_: object) -> int:
        raise KeyError("inbox")

    monkeypatch.setattr(replay, "run", broken)
    code, _, err = invoke(["replay", "-c", places["@cfg"], places["@bare"]], capsys)
    assert (code, err.splitlines()) == (70, [
        "eessi-bot replay: internal error: KeyError: 'inbox'",
        "this is a bug: run the command again with --debug and report the traceback"])


def test_help_documents_the_exit_statuses() -> None:
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "--help"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0
    for line in ("  2    wrong invocation or unusable input: a missing, unreadable or malformed file, a configuration",
                 "  70   an internal error (a bug: run again with --debug and report the traceback)",
                 "  130  interrupted (Ctrl-C)"):
        assert line in result.stdout.splitlines()


def test_the_installed_command_exits_with_the_status(places: Dict[str, str]) -> None:
    """What a shell script sees through the entry point, not only `main`'s return value."""
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "serve", "-c", places["@cfg"], "--port",
                             places["@busy"]], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith("stop it or choose another --port")
