"""The one way adapters run a command: an argv list (no shell), an explicit environment, a timeout.

Commands start helpers of their own (git starts ssh and git-remote-https, a site's sbatch may be a
wrapper script), and killing only the command at its timeout would leave those running and holding its
pipes. So every command starts in a new session (also: no terminal for ssh to prompt on), and a timeout
kills its whole process group. The environment is never inherited: a command sees only what the adapter
passed, so the bot's secrets reach no command by accident.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Mapping, Optional, Sequence, Tuple, Union

from eessi_bot.ports.commands import CommandResult, CommandTimedOut

COLLECT_AFTER_KILL = 5.0
"""Seconds to read what a killed command wrote: a helper that left the process group (a daemon) may hold
the pipes open for ever, and must not hold the caller too."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class TimedOut(Exception):
    """The command ran longer than its timeout; it and its process group were killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stderr: bytes) -> None:
        super().__init__(f"{argv[0]} did not finish within {timeout:g} s")
        self.argv: Tuple[str, ...] = tuple(argv)
        self.timeout = timeout
        self.stderr = stderr
        """What the command wrote to stderr before it was killed (empty when it went to `output`)."""


def run(argv: Sequence[str], *, env: Mapping[str, str], timeout: float, cwd: Optional[Path] = None,
        stdin: Union[bytes, IO[bytes], None] = None, output: Optional[IO[bytes]] = None) -> Finished:
    """Run `argv` in a new session with exactly `env`, and return its exit code, stdout and stderr.

    `stdin` is fed to the command: bytes through a pipe, or an open file as the command's own stdin (so a
    large file is streamed, never read into memory here); else it reads /dev/null. With `output`, stdout
    and stderr both go to that file instead of being captured (for a command that leaves a process behind,
    which would hold a pipe). Raises OSError when the command cannot be started, TimedOut after `timeout`
    seconds.
    """
    sink = subprocess.PIPE if output is None else output
    data = stdin if isinstance(stdin, bytes) else None
    source: Union[int, IO[bytes]] = subprocess.PIPE if isinstance(stdin, bytes) else (
        subprocess.DEVNULL if stdin is None else stdin)
    proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=sink, stderr=sink, start_new_session=True,
                            stdin=source)
    with proc:
        try:
            stdout, stderr = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # the session's pgid is its leader's pid
            proc.kill()
            try:
                _, stderr = proc.communicate(timeout=COLLECT_AFTER_KILL)
            except subprocess.TimeoutExpired:
                stderr = b""
            raise TimedOut(argv, timeout, stderr or b"") from None
    return Finished(proc.returncode, stdout or b"", stderr or b"")


class ProcessRunner:
    """`ports.commands.CommandRunner` on `run`: the site's own programs (e.g. its upload script)."""

    KEEP = 4096

    def run(self, argv: Sequence[str], env: Mapping[str, str], timeout: float,
            cwd: Optional[Path] = None) -> CommandResult:
        try:
            finished = run(argv, env=env, timeout=timeout, cwd=cwd)
        except TimedOut as exc:
            raise CommandTimedOut(str(exc)) from exc
        output = (finished.stdout + finished.stderr).decode("utf-8", errors="replace")
        return CommandResult(finished.returncode, output[-self.KEEP:])
