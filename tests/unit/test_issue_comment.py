"""Commands in PR comments, end to end through the real pipeline (inbox, workers, outbox) in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.pipeline import Pipeline


@pytest.fixture
def bot(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path)


def test_help_answers_with_every_command(bot: Pipeline) -> None:
    bot.comment("Please have a look\n\nbot: help")
    (answer,) = bot.bot_comments()
    assert "received bot command `help` from `maintainer`" in answer
    assert "`bot: show_config`" in answer and "`bot: help [COMMAND]`" in answer
    assert bot.reactions() == ["eyes"]


def test_show_config_lists_node_types(bot: Pipeline) -> None:
    bot.comment("bot: show_config")
    (answer,) = bot.bot_comments()
    assert "Instance `test-bot` is configured to build on:" in answer
    assert "- Node type `cpu_zen2`:" in answer
    assert "CPU architecture: `x86_64/amd/zen4`" in answer
    assert "Repositories: `['eessi.io-2023.06-compat', 'eessi.io-2023.06-software']`" in answer


def test_several_commands_one_answer(bot: Pipeline) -> None:
    bot.comment("bot: help show_config\nbot: show_config")
    (answer,) = bot.bot_comments()
    assert answer.count("- handling command") == 2
    assert "- example: `bot: show_config`" in answer


@pytest.mark.parametrize(("body", "expected"), [
    ("bot: hlep", "unknown command `hlep`; did you mean `help`?"),
    ("bot: frobnicate", "unknown command `frobnicate`; use `bot: help` for usage information"),
    ("bot: shwo_config", "did you mean `show_config`?"),
    ("bot: show_config for:arch=zen2", "`show_config` does not take `for:architecture=zen2`"),
    ("bot: help for:zen2", "should be NAME=VALUE"),
    ("bot: help nosuch", "unknown command `nosuch`"),
], ids=["typo-help", "unknown", "typo-show-config", "args-not-taken", "bad-args", "help-unknown"])
def test_errors_are_always_shown(bot: Pipeline, body: str, expected: str) -> None:
    """The EESSI bot hid these at its default chatlevel; the commenter must learn what went wrong."""
    bot.comment(body)
    (answer,) = bot.bot_comments()
    assert expected in answer


def test_no_permission_is_said_once(bot: Pipeline) -> None:
    bot.comment("bot: help\nbot: show_config", sender="stranger")
    (answer,) = bot.bot_comments()
    assert "account `stranger` has NO permission to send commands to the bot" in answer
    assert bot.reactions() == []


@pytest.mark.parametrize("body", [
    "```\nbot: help\n```",
    "> bot: help",
    "    bot: help",
    "<!-- bot: help -->",
    "Bot: help",
    "bot help",
    "Thanks, LGTM!",
])
def test_not_commands_get_no_answer(bot: Pipeline, body: str) -> None:
    assert bot.comment(body) == "no commands"
    assert bot.bot_comments() == [] and bot.reactions() == []


@pytest.mark.parametrize(("sender", "sender_type", "via_app"), [
    ("some-ci[bot]", "Bot", None),
    ("dependabot[bot]", "Bot", None),
    ("test-bot-app[bot]", "Bot", {"id": 4242}),
])
def test_bots_are_never_obeyed(bot: Pipeline, sender: str, sender_type: str, via_app: object) -> None:
    outcome = bot.comment("bot: help", sender=sender, sender_type=sender_type, performed_via_github_app=via_app)
    assert "ignored" in outcome
    assert bot.bot_comments() == []


def test_comment_on_plain_issue_is_ignored(bot: Pipeline) -> None:
    from tests.fakes.webhooks import pr_comment_payload

    payload = pr_comment_payload("bot: help", repo="eessi/software-layer", pr_number=7, comment_id=5,
                                 sender_login="maintainer")
    del payload["issue"]["pull_request"]
    assert "not a pull request" in bot.deliver("issue_comment", payload)
    assert bot.bot_comments() == []


def test_edited_comments_are_ignored(bot: Pipeline) -> None:
    """Only new comments are read (an edit would otherwise re-run a build)."""
    from tests.fakes.webhooks import pr_comment_payload

    payload = pr_comment_payload("bot: help", repo="eessi/software-layer", pr_number=7, comment_id=5,
                                 sender_login="maintainer", action="edited")
    assert "no handler" in bot.deliver("issue_comment", payload)
    assert bot.bot_comments() == []


@pytest.mark.parametrize(("body", "answered"), [
    ("bot: help instance:test-bot", True),
    ("bot: help inst:test", True),
    ("bot: help instance:other-bot", False),
    ("bot: show_config inst:^bot$", False),
    ("bot: help for:zen2 instance:other-bot", False),
    ("bot: nosuch instance:other-bot", False),
])
def test_instance_addressing_for_every_command(bot: Pipeline, body: str, answered: bool) -> None:
    bot.comment(body)
    assert bool(bot.bot_comments()) is answered
    assert bool(bot.reactions()) is answered


def test_only_some_commands_for_this_instance(bot: Pipeline) -> None:
    bot.comment("bot: help instance:other\nbot: show_config")
    (answer,) = bot.bot_comments()
    assert "`help`" not in answer.split("expanded format")[0]
    assert "show_config" in answer


def test_redelivery_of_same_comment_answers_once(bot: Pipeline) -> None:
    """GitHub may deliver one comment twice under two ids (a manual redelivery): keyed by comment id."""
    from tests.fakes.webhooks import pr_comment_payload

    made = bot.github.add_user_comment("eessi/software-layer", 7, "bot: help", login="maintainer")
    payload = pr_comment_payload("bot: help", repo="eessi/software-layer", pr_number=7, comment_id=made.id,
                                 sender_login="maintainer")
    bot.deliver("issue_comment", payload)
    bot.deliver("issue_comment", payload)
    assert len(bot.bot_comments()) == 1
    assert bot.github.calls.count("create") == 1


def test_too_many_commands(bot: Pipeline) -> None:
    bot.comment("\n".join(["bot: help"] * 33))
    (answer,) = bot.bot_comments()
    assert "the comment holds 33 commands; at most 32" in answer


def test_markdown_in_commands_cannot_inject(bot: Pipeline) -> None:
    bot.comment("bot: help `x`![img](http://evil)")
    (answer,) = bot.bot_comments()
    assert "``help `x`![img](http://evil)``" in answer


def test_acknowledgement_only_at_chatty(tmp_path: Path) -> None:
    """help carries an answer, so it is posted at every level, incognito included (DESIGN: asked-for
    content is shown at every chatlevel)."""
    quiet = Pipeline(tmp_path, chatlevel="incognito")
    quiet.comment("bot: help")
    assert len(quiet.bot_comments()) == 1


@pytest.mark.parametrize(("chatlevel", "addressed", "answered"), [
    ("incognito", False, False),
    ("minimal", False, False),
    ("basic", False, False),
    ("chatty", False, True),
    ("incognito", True, True),
    ("minimal", True, True),
    ("basic", True, True),
    ("chatty", True, True),
], ids=["incognito", "minimal", "basic", "chatty", "incognito-addressed", "minimal-addressed", "basic-addressed",
        "chatty-addressed"])
def test_build_nothing_matches_is_said_when_addressed_or_chatty(tmp_path: Path, chatlevel: str, addressed: bool,
                                                               answered: bool) -> None:
    """Instances that build nothing for a command keep quiet (as the EESSI bot's did), unless the
    commenter named them with `instance:` or the site wants them chatty."""
    bot = Pipeline(tmp_path, chatlevel=chatlevel)
    outcome = bot.comment("bot: build for:arch=aarch64/neoverse_v1" + (" instance:test-bot" if addressed else ""))
    if answered:
        (answer,) = bot.bot_comments()
        assert "no jobs were submitted: no node type of this instance matches" in answer
        assert "`cpu_zen2`: `x86_64/amd/zen2` for `eessi.io-2023.06-compat`" in answer
        assert bot.reactions() == ["eyes"]
    else:
        assert bot.bot_comments() == [] and bot.reactions() == []
        assert outcome == "nothing for this instance: build for:architecture=aarch64/neoverse_v1"


def test_quiet_build_is_left_out_of_the_answer(bot: Pipeline) -> None:
    bot.comment("bot: build for:arch=aarch64/neoverse_v1\nbot: show_config")
    (answer,) = bot.bot_comments()
    assert "Instance `test-bot` is configured to build on:" in answer
    assert "aarch64" not in answer and "no jobs were submitted" not in answer


def test_pr_opened_node_table_only_when_chatty(tmp_path: Path) -> None:
    basic = Pipeline(tmp_path / "basic")
    basic.pull_request("opened")
    assert basic.bot_comments() == []
    chatty = Pipeline(tmp_path / "chatty", chatlevel="chatty")
    chatty.pull_request("opened")
    (table,) = chatty.bot_comments()
    assert table.startswith("Instance `test-bot` is configured to build on:")


def test_build_label_says_it_is_disabled(bot: Pipeline) -> None:
    bot.pull_request("labeled", label="bot:build")
    bot.pull_request("labeled", label="bug")
    (answer,) = bot.bot_comments()
    assert "Handling the label 'bot:build' is disabled. Use the command `bot: build [FILTER]*` instead." in answer
