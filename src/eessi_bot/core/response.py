"""What the bot says on a PR, as a small tree of nodes, and the one renderer that lays it out as markdown.

Commands return nodes (list items with nested items, lines of text, untrusted text to fence); only
this module knows indentation and list markers, so every answer has the same layout: the EESSI bot's
`command_response_fmt` with one `comment_response` and one `comment_result` item per command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from eessi_bot.core.markdown import code, fenced

_INDENT = "  "


@dataclass(frozen=True)
class Item:
    """A list item (`- text`); its children are nested one level deeper."""

    text: str
    children: Tuple[Node, ...] = ()


@dataclass(frozen=True)
class Text:
    """Lines at the current depth without a list marker (a heading, a table); "" is a blank line."""

    text: str


@dataclass(frozen=True)
class Code:
    """Untrusted text (a scheduler's message) in a fenced block its backticks cannot close, set off by
    blank lines."""

    text: str


@dataclass(frozen=True)
class Verbatim:
    """Markdown that is complete as it is, after a blank line and never indented (its own fenced blocks
    would break under an indent)."""

    text: str


Node = Union[Item, Text, Code, Verbatim]
BLANK = Text("")


def _lines(nodes: Sequence[Node], depth: int) -> Iterator[str]:
    indent = _INDENT * depth
    for node in nodes:
        if isinstance(node, Item):
            yield f"{indent}- {node.text}"
            yield from _lines(node.children, depth + 1)
        elif isinstance(node, Text):
            yield from (indent + line if line else "" for line in node.text.split("\n"))
        elif isinstance(node, Code):
            yield ""
            yield from fenced(node.text, indent).split("\n")
            yield ""
        else:
            yield ""
            yield node.text


def render_list(nodes: Sequence[Node], depth: int = 0) -> str:
    """Nodes as part of the response comment's list: every line starts with a newline."""
    return "".join("\n" + line for line in _lines(nodes, depth))


def render_block(nodes: Sequence[Node]) -> str:
    """Nodes as a comment of their own (no leading newline)."""
    return "\n".join(_lines(nodes, 0))


@dataclass(frozen=True)
class Outcome:
    """What became of one command line."""

    text: str
    """The command as written after `bot:`."""
    expanded: Optional[str] = None
    """Canonical form (`name args`); None when the line could not be parsed."""
    reply: Tuple[Node, ...] = ()
    """The handler's answer, nested under the command's result item."""
    error: Optional[str] = None
    answer: bool = True
    """False when the reply is only an acknowledgement (shown at chatlevel chatty)."""
    quiet: bool = False
    """True when the line is other instances' business (left out below chatlevel chatty)."""


def _received(outcome: Outcome, sender: str) -> Item:
    if outcome.expanded is None:
        return Item(f"parsing the bot command {code(outcome.text)}, received from sender {code(sender)}, failed")
    return Item(f"received bot command {code(outcome.text)} from {code(sender)}",
                (Item(f"expanded format: {code(outcome.expanded)}"),))


def _result(outcome: Outcome) -> Item:
    command = code(outcome.text if outcome.expanded is None else outcome.expanded)
    if outcome.error is not None:
        return Item(f"handling command {command} failed with message", (Text(f"_{outcome.error}_"),))
    return Item(f"handling command {command} resulted in: ", outcome.reply)


@dataclass(frozen=True)
class Late:
    """A command that reached the bot late: GitHub sent it at `sent_at`, the bot got it at `received_at`."""

    sent_at: float
    received_at: float


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def late_item(late: Late) -> Item:
    """The line that tells the person who typed a command why its answer comes so late."""
    return Item(f"this comment reached the bot late: GitHub sent it at {_utc(late.sent_at)}, the bot received it "
                f"at {_utc(late.received_at)} (the bot was stopped or could not be reached, and took the comment "
                "from GitHub's log of deliveries afterwards)")


def render_response(fmt: str, app_name: str, sender: str, outcomes: Sequence[Outcome],
                    late: Optional[Late] = None) -> str:
    """`fmt` filled with one `comment_response` and one `comment_result` item per command; a comment
    that came `late` says so first."""
    received: List[Node] = [late_item(late)] if late else []
    received += [_received(o, sender) for o in outcomes]
    results: List[Node] = [_result(o) for o in outcomes]
    return fmt.format(app_name=app_name, comment_response=render_list(received),
                      comment_result=render_list(results))


def render_notice(fmt: str, app_name: str, text: str) -> str:
    """A one-off message (label handling, permission refusals) in the same layout."""
    return fmt.format(app_name=app_name, comment_response=text, comment_result="")
