"""The adapters' command runner: exit codes and output as the command gave them, exactly the environment
it was given, and a timeout that leaves nothing of the command running."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from eessi_bot.adapters import process
from eessi_bot.adapters.process import Finished, TimedOut, run
from tests.waiting import wait_for

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"}


@dataclass(frozen=True)
class RunCase:
    id: str
    argv: List[str]
    expected: Finished
    env: Tuple[Tuple[str, str], ...] = tuple(ENV.items())
    stdin: Optional[bytes] = None


RUN_CASES = [
    RunCase("success", ["true"], Finished(0, b"", b"")),
    RunCase("exit-code", ["sh", "-c", "exit 3"], Finished(3, b"", b"")),
    RunCase("stdout-and-stderr-apart", ["sh", "-c", "echo out; echo err >&2; exit 1"], Finished(1, b"out\n", b"err\n")),
    RunCase("killed-by-a-signal", ["sh", "-c", "kill -TERM $$"], Finished(-signal.SIGTERM, b"", b"")),
    RunCase("stdin-fed", ["cat"], Finished(0, b"line\n\x00binary", b""), stdin=b"line\n\x00binary"),
    RunCase("no-stdin-is-dev-null", ["cat"], Finished(0, b"", b"")),
    RunCase("env-exactly-as-given", ["env"], Finished(0, b"ONLY=this\n", b""), env=(("ONLY", "this"),)),
    RunCase("empty-env", ["env"], Finished(0, b"", b""), env=()),
]


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.id)
def test_run(case: RunCase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_APP_SECRET_TOKEN", "never-inherited")
    assert run(case.argv, env=dict(case.env), timeout=10, stdin=case.stdin) == case.expected


def test_stdin_from_an_open_file_is_streamed(tmp_path: Path) -> None:
    """A file given as stdin becomes the command's stdin itself: a large file reaches it whole, from the
    file's current position, without passing through the caller's memory."""
    big = tmp_path / "big"
    big.write_bytes(b"skipped\n" + bytes(range(256)) * 40_000)   # ~10 MB
    with big.open("rb") as source:
        source.seek(len(b"skipped\n"))
        result = run(["sha256sum"], env=ENV, timeout=30, stdin=source)
    expected = hashlib.sha256(bytes(range(256)) * 40_000).hexdigest()
    assert result == Finished(0, f"{expected}  -\n".encode(), b"")


def test_cwd_and_text(tmp_path: Path) -> None:
    result = run(["sh", "-c", "pwd; printf 'caf\\351' >&2"], env=ENV, timeout=10, cwd=tmp_path)
    assert result.stdout_text == f"{tmp_path}\n"
    assert result.stderr_text == "caf\ufffd"  # not UTF-8: replaced, not an exception


def test_output_to_a_file(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with log.open("wb") as output:
        result = run(["sh", "-c", "echo out; echo err >&2; exit 4"], env=ENV, timeout=10, output=output)
    assert result == Finished(4, b"", b"")
    assert sorted(log.read_bytes().splitlines()) == [b"err", b"out"]


def test_a_missing_command_cannot_start() -> None:
    with pytest.raises(FileNotFoundError):
        run(["/nonexistent/command"], env=ENV, timeout=10)


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting to be reaped does not)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2:].split()[0] != "Z"


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[Path]:
    """A directory for `*.pid` files of processes a test starts; any still running at the end are killed."""
    yield tmp_path
    survivors = [int(f.read_text()) for f in tmp_path.glob("*.pid") if alive(int(f.read_text()))]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []


def pid_in(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip() != "", 5)
    return int(path.read_text())


@dataclass(frozen=True)
class TimeoutCase:
    id: str
    script: str
    pids: List[str]
    """The `*.pid` files the script writes: processes the timeout must have killed."""


TIMEOUT_CASES = [
    TimeoutCase("command", "echo $$ > command.pid; echo started >&2; sleep 60", ["command"]),
    TimeoutCase("child-and-grandchild",
                "echo started >&2; sh -c 'sleep 60 & echo $! > grandchild.pid; wait' & echo $! > child.pid; wait",
                ["child", "grandchild"]),
    TimeoutCase("ignores-sigterm", "trap '' TERM; echo $$ > command.pid; echo started >&2; "
                "while :; do sleep 0.1; done", ["command"]),
]


@pytest.mark.parametrize("case", TIMEOUT_CASES, ids=lambda c: c.id)
def test_timeout_kills_the_process_group(spawned: Path, case: TimeoutCase) -> None:
    began = time.monotonic()
    with pytest.raises(TimedOut) as caught:
        run(["sh", "-c", case.script], env=ENV, timeout=1.0, cwd=spawned)
    assert time.monotonic() - began < 5
    assert caught.value.stderr == b"started\n"  # what it said before it was stopped
    assert str(caught.value) == "sh did not finish within 1 s"
    pids = [pid_in(spawned / f"{name}.pid") for name in case.pids]
    wait_for(lambda: not any(alive(pid) for pid in pids), 5)


def test_a_daemon_holding_the_pipes_does_not_hold_the_caller(spawned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper that left the session (setsid) survives the kill and keeps stdout open: the runner gives up
    on reading after COLLECT_AFTER_KILL seconds instead of waiting for it."""
    monkeypatch.setattr(process, "COLLECT_AFTER_KILL", 0.5)
    began = time.monotonic()
    with pytest.raises(TimedOut):
        run(["sh", "-c", "setsid sh -c 'echo $$ > daemon.pid; exec sleep 60' & sleep 60"], env=ENV, timeout=1.0,
            cwd=spawned)
    assert time.monotonic() - began < 4
    daemon = pid_in(spawned / "daemon.pid")
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not alive(daemon), 5)
