"""The one renderer of what the bot says: nodes in, the EESSI bot's markdown layout out."""

from __future__ import annotations

from typing import List, Sequence

import pytest

from eessi_bot.core.config.defaults import COMMAND_RESPONSE_FMT
from eessi_bot.core.response import (
    BLANK,
    Code,
    Item,
    Node,
    Outcome,
    Text,
    Verbatim,
    render_block,
    render_list,
    render_response,
)

LAYOUTS = [
    # (id, nodes, depth, as nested lines of the response's list)
    ("items", [Item("a"), Item("b")], 1, "\n  - a\n  - b"),
    ("nested", [Item("a", (Item("b", (Item("c"),)),))], 0, "\n- a\n  - b\n    - c"),
    ("text-lines-and-blank", [Text("title\n\n|x|"), BLANK, Item("a")], 1, "\n  title\n\n  |x|\n\n  - a"),
    ("code-under-an-item", [Item("failed:", (Code("line 1\n\nline 2\n"),))], 1,
     "\n  - failed:\n\n    ```\n    line 1\n    \n    line 2\n    ```\n"),
    ("code-cannot-be-closed-by-its-text", [Code("a ``` b")], 0, "\n\n````\na ``` b\n````\n"),
    ("verbatim-is-never-indented", [Item("no jobs"), Verbatim("why:\n\n```\nstderr\n```")], 1,
     "\n  - no jobs\n\nwhy:\n\n```\nstderr\n```"),
    ("item-text-kept-as-is", [Item("resulted in: ", (Item("x"),))], 0, "\n- resulted in: \n  - x"),
]


@pytest.mark.parametrize(("nodes", "depth", "expected"), [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_render_list(nodes: Sequence[Node], depth: int, expected: str) -> None:
    assert render_list(nodes, depth) == expected


def test_render_block_is_a_comment_of_its_own() -> None:
    """The node-type table posted when a PR opens starts at the first character of the comment."""
    nodes: List[Node] = [Text("Instance `bot` builds on:"), Item("Node type `a`:", (Item("OS: `linux`"),)), BLANK,
                         Item("b")]
    assert render_block(nodes) == "Instance `bot` builds on:\n- Node type `a`:\n  - OS: `linux`\n\n- b"


RESPONSES = [
    # (id, outcome, the comment_response part, the comment_result part)
    ("reply", Outcome("status", "status", reply=(Item("no jobs"),)),
     "\n- received bot command `status` from `alice`\n  - expanded format: `status`",
     "\n- handling command `status` resulted in: \n  - no jobs"),
    ("error", Outcome("build", "build", error="no `for:`"),
     "\n- received bot command `build` from `alice`\n  - expanded format: `build`",
     "\n- handling command `build` failed with message\n  _no `for:`_"),
    ("unparsed", Outcome("build for:zen2", error="bad"),
     "\n- parsing the bot command `build for:zen2`, received from sender `alice`, failed",
     "\n- handling command `build for:zen2` failed with message\n  _bad_"),
]


@pytest.mark.parametrize(("outcome", "received", "result"), [c[1:] for c in RESPONSES], ids=[c[0] for c in RESPONSES])
def test_render_response(outcome: Outcome, received: str, result: str) -> None:
    assert render_response(COMMAND_RESPONSE_FMT, "bot", "alice", [outcome]) == COMMAND_RESPONSE_FMT.format(
        app_name="bot", comment_response=received, comment_result=result)
