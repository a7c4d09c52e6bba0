"""The response comment to a comment with commands, in the EESSI bot's `command_response_fmt` layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from eessi_bot.core.markdown import code


@dataclass(frozen=True)
class Outcome:
    """What became of one command line."""

    text: str
    """The command as written after `bot:`."""
    expanded: Optional[str] = None
    """Canonical form (`name args`); None when the line could not be parsed."""
    result: Optional[str] = None
    """The handler's reply, starting with a newline (nested lines) or a space (one line)."""
    error: Optional[str] = None
    answer: bool = True
    """False when the result is only an acknowledgement (shown at chatlevel chatty)."""


def render_response(fmt: str, app_name: str, sender: str, outcomes: Sequence[Outcome]) -> str:
    """`fmt` filled with one `comment_response` and one `comment_result` line per command."""
    received = []
    results = []
    for outcome in outcomes:
        if outcome.expanded is None:
            received.append(f"\n- parsing the bot command {code(outcome.text)}, received from sender "
                            f"{code(sender)}, failed")
            results.append(f"\n- handling command {code(outcome.text)} failed with message\n  _{outcome.error}_")
            continue
        received.append(f"\n- received bot command {code(outcome.text)} from {code(sender)}"
                        f"\n  - expanded format: {code(outcome.expanded)}")
        if outcome.error is not None:
            results.append(f"\n- handling command {code(outcome.expanded)} failed with message"
                           f"\n  _{outcome.error}_")
        else:
            results.append(f"\n- handling command {code(outcome.expanded)} resulted in: {outcome.result or ''}")
    return fmt.format(app_name=app_name, comment_response="".join(received), comment_result="".join(results))


def render_notice(fmt: str, app_name: str, text: str) -> str:
    """A one-off message (label handling, permission refusals) in the same layout."""
    return fmt.format(app_name=app_name, comment_response=text, comment_result="")
