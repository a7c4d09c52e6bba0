"""Which lines of a comment are commands: the EESSI bot's phrasings (reference §3.1) plus markdown."""

from __future__ import annotations

import pytest

from eessi_bot.core.command_text import find_commands

CASES = [
    # (id, comment body, expected command texts)
    ("plain", "bot: build", ["build"]),
    ("no-space", "bot:build", ["build"]),
    ("two-spaces", "bot:  build", ["build"]),
    ("tab-after-colon", "bot:\tbuild", ["build"]),
    ("help-with-words", "bot: help me please", ["help me please"]),
    ("show-config", "bot: show_config", ["show_config"]),
    ("status-last-build", "bot: status last_build", ["status last_build"]),
    ("trailing-space", "bot: help   ", ["help"]),
    ("crlf", "bot: help\r\nbot: status\r\n", ["help", "status"]),
    ("cr-only", "bot: help\rbot: status", ["help", "status"]),
    ("leading-1-space", " bot: help", ["help"]),
    ("leading-3-spaces", "   bot: help", ["help"]),
    ("leading-4-spaces-is-code", "    bot: help", []),
    ("leading-tab-is-code", "\tbot: help", []),
    ("capital-Bot", "Bot: build", []),
    ("upper-BOT", "BOT: help", []),
    ("missing-colon", "bot show_config", []),
    ("mid-line", "hello bot: help", []),
    ("list-item", "- bot: help", []),
    ("empty-command", "bot:", []),
    ("empty-command-space", "bot:   ", []),
    ("word-bot-prefix", "robot: help", []),
    ("bots-colon", "bots: help", []),
    ("at-mention", "@bot: help", []),
    ("block-quote", "> bot: build", []),
    ("nested-quote", "> > bot: build", []),
    ("indented-quote", "  > bot: build", []),
    ("quote-then-command", "> bot: build for:arch=zen2\n\nbot: help", ["help"]),
    ("fenced-backticks", "```\nbot: build\n```", []),
    ("fenced-tildes", "~~~\nbot: build\n~~~", []),
    ("fenced-with-info", "```bash\nbot: build\n```\nbot: help", ["help"]),
    ("fence-longer-close", "````\nbot: build\n```\nbot: status\n`````\nbot: help", ["help"]),
    ("unclosed-fence", "```\nbot: build\nbot: help", []),
    ("indented-code-after-blank", "text\n\n    bot: build\n\nbot: help", ["help"]),
    ("indented-continuation", "some text\n    bot: build", []),
    ("html-comment-line", "<!-- bot: build -->\nbot: help", ["help"]),
    ("html-comment-block", "<!--\nbot: build\n-->\nbot: help", ["help"]),
    ("inline-code-prose", "use `bot: build` to build", []),
    ("several", "bot: help\nbot: show_config\nbot: build for:arch=zen2", ["help", "show_config",
                                                                          "build for:arch=zen2"]),
    ("between-prose", "Thanks!\n\nbot: build for:arch=x86_64/amd/zen2\n\nCheers", ["build for:arch=x86_64/amd/zen2"]),
    ("eessi-3.4-example", "bot: build on:arch=zen4,accel=nvidia/cc90 for:arch=x86_64/amd/zen4,accel=nvidia/cc90",
     ["build on:arch=zen4,accel=nvidia/cc90 for:arch=x86_64/amd/zen4,accel=nvidia/cc90"]),
    ("eessi-repo-example", "bot: build for:arch=x86_64/amd/zen2 repo:eessi.io-2023.06-software",
     ["build for:arch=x86_64/amd/zen2 repo:eessi.io-2023.06-software"]),
    ("eessi-instance-example", "bot: build for:arch=x86_64/amd/zen2 inst:MY-bot",
     ["build for:arch=x86_64/amd/zen2 inst:MY-bot"]),
    ("exportvariable", "bot: build for:arch=x86_64/amd/zen2 exportvariable:SKIP_TESTS=yes",
     ["build for:arch=x86_64/amd/zen2 exportvariable:SKIP_TESTS=yes"]),
    ("nbsp-not-space", "\u00a0bot: help", []),
    ("empty-body", "", []),
]


@pytest.mark.parametrize(("body", "expected"), [(b, e) for _, b, e in CASES], ids=[c[0] for c in CASES])
def test_commands_found(body: str, expected: list) -> None:
    assert [c.text for c in find_commands(body)] == expected


def test_line_numbers_key_commands() -> None:
    """The line index keys a command's effects, so it must count every line, code blocks included."""
    body = "intro\n```\nbot: build\n```\nbot: help\nbot: status"
    assert [(c.line, c.name) for c in find_commands(body)] == [(4, "help"), (5, "status")]


def test_name_and_args() -> None:
    (command,) = find_commands("bot: build   for:arch=zen2  repo:software")
    assert command.name == "build"
    assert command.args == ("for:arch=zen2", "repo:software")
