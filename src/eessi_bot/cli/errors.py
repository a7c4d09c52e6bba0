"""What a wrong invocation ends with: one or two plain lines and a documented exit status.

Every `eessi-bot` command raises `CliError` for a mistake the person at the terminal can correct
(a missing file, a port in use, a branch that does not exist); `main` prints it and exits with its
status. Anything else that escapes is a bug: `main` says so in one line and `--debug` shows the
traceback.
"""

from __future__ import annotations

USAGE = 2
"""A wrong invocation or an input the command cannot use (argparse uses 2 too)."""
INTERRUPTED = 130
INTERNAL = 70
"""An error the bot did not expect (EX_SOFTWARE): a bug to report, with the `--debug` traceback."""

EXIT_STATUS = """exit status (every command; some add their own, see COMMAND --help):
  0    done
  1    the command ran and its outcome is negative (check-config found errors, a job failed)
  2    wrong invocation or unusable input: a missing, unreadable or malformed file, a configuration
       with errors, a port in use, an address that does not answer
  70   an internal error (a bug: run again with --debug and report the traceback)
  130  interrupted (Ctrl-C)"""


class CliError(Exception):
    """A mistake the user can correct: `message` says what to do; `status` is the exit status."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status
