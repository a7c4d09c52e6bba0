"""`issue_comment.created` on a PR: find the commands, check who asked, run them, answer once.

Only new comments are read (edits are ignored, as in the EESSI bot); comments by bots, this App's
included, never run commands. A command with `instance:` patterns that do not match this instance
is another instance's business and is passed over in silence; so, below chatlevel chatty, is a build
none of this instance's node types matches, unless `instance:` names it (EESSI runs one instance per
site on the same PR). A comment that reached the bot late (taken from GitHub's log of deliveries after
the bot was down) is always answered, and the answer says so, whatever the chatlevel: whoever typed it
learns why its jobs come hours later.
"""

from __future__ import annotations

from typing import Optional

from eessi_bot.commands.context import CommandContext, CommandError
from eessi_bot.core.arguments import INSTANCE, ArgumentError, parse_arguments
from eessi_bot.core.command_text import MAX_COMMANDS, CommandLine, find_commands
from eessi_bot.core.config import ChatLevel
from eessi_bot.core.events import IssueCommentEvent, issue_comment
from eessi_bot.core.markdown import code
from eessi_bot.core.pattern import PatternError, compile_pattern
from eessi_bot.core.response import Item, Late, Outcome, render_list, render_notice, render_response
from eessi_bot.events.context import EventContext
from eessi_bot.ports.github import GitHubError
from eessi_bot.ports.jobs import Request

REACTION = "eyes"


def response_key(repo: str, comment_id: int) -> str:
    return f"response:{repo}:{comment_id}"


def on_comment_created(ctx: EventContext) -> str:
    event = issue_comment(ctx.payload)
    if not event.is_pull_request:
        return "comment on an issue, not a pull request: ignored"
    if event.sender.is_bot or event.author.is_bot or event.via_app_id is not None:
        return f"comment by {event.author.login}, a bot or an App: ignored"
    lines = find_commands(event.body)
    if not lines:
        return "no commands"
    instance = ctx.config.instance
    addressed = [line for line in lines if may_address(line, instance)]
    if not addressed:
        return "commands for other instances"
    fmt = ctx.config.template("bot_control.command_response_fmt")
    key = response_key(event.repo, event.comment_id)
    if not ctx.config.bot_control.command_permission.allows(event.sender.login):
        text = render_list((Item(f"account {code(event.sender.login)} has NO permission to send commands to the bot"),))
        ctx.effects.comment(key, event.repo, event.number, render_notice(fmt, instance, text))
        return f"{event.sender.login} may not send commands"
    if len(lines) > MAX_COMMANDS:
        text = render_list((Item(f"the comment holds {len(lines)} commands; at most {MAX_COMMANDS} are handled "
                                 "per comment, so none was run"),))
        ctx.effects.comment(key, event.repo, event.number, render_notice(fmt, instance, text))
        return "too many commands"
    outcomes = [o for o in (_run(ctx, event, line) for line in addressed) if o is not None]
    if not outcomes:
        return "commands for other instances"
    chatty = ctx.config.bot_control.chatlevel >= ChatLevel.CHATTY
    shown = [o for o in outcomes if chatty or not o.quiet]
    if not shown:
        return "nothing for this instance: " + ", ".join(o.expanded or o.text for o in outcomes)
    ctx.effects.reaction(f"reaction:{event.repo}:{event.comment_id}:{REACTION}", event.repo,
                         event.comment_id, REACTION)
    late = None if ctx.late_since is None else Late(ctx.late_since, ctx.received_at)
    if any(o.answer for o in shown) or chatty or late:
        body = render_response(fmt, instance, event.sender.login, shown, late)
        ctx.effects.comment(key, event.repo, event.number, body)
    return "handled " + ", ".join(o.expanded or o.text for o in outcomes)


def may_address(line: CommandLine, instance: str) -> bool:
    """False only when an `instance:` argument clearly names other instances (works on bad lines too)."""
    for token in line.args:
        head, colon, rest = token.partition(":")
        if colon and rest and len(head) >= 3 and "instance".startswith(head):
            try:
                if not compile_pattern(rest).search(instance):
                    return False
            except PatternError:
                continue
    return True


def _run(ctx: EventContext, event: IssueCommentEvent, line: CommandLine) -> Optional[Outcome]:
    spec = ctx.registry.get(line.name)
    if spec is None:
        return Outcome(line.text, error=ctx.registry.unknown_message(line.name))
    try:
        items = parse_arguments(line.args)
    except ArgumentError as exc:
        return Outcome(line.text, error=str(exc))
    if not items.addressed_to(ctx.config.instance):
        return None
    expanded = f"{spec.name} {items.expanded()}".strip()
    request = Request(repo=event.repo, number=event.number, sender=event.sender.login,
                      comment_id=event.comment_id, comment_url=event.html_url,
                      delivery_id=ctx.delivery.id, line=line.line, received_at=ctx.received_at)
    command_ctx = CommandContext(config=ctx.config, registry=ctx.registry, request=request, jobs=ctx.jobs,
                                 addressed=any(f.component == INSTANCE for f in items.filters))
    try:
        reply = spec.run(command_ctx, items)
    except (ArgumentError, CommandError) as exc:
        return Outcome(line.text, expanded, error=str(exc))
    except GitHubError:
        raise
    except Exception:
        if not ctx.last_attempt:
            raise  # the delivery is tried again later; commands are idempotent
        ctx.log.exception("command %r failed", line.text)
        return Outcome(line.text, expanded, error="the bot failed internally; the site's administrator finds "
                       f"the details in its log under delivery {code(ctx.delivery.id)}")
    return Outcome(line.text, expanded, reply=reply.nodes, answer=reply.answer, quiet=reply.quiet)
