"""Typed views of the webhook payloads the bot acts on; a payload missing what we need is an EventError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional


class EventError(ValueError):
    """The payload lacks a field the bot needs; the delivery is logged and dropped, not retried."""


@dataclass(frozen=True)
class Actor:
    login: str
    type: str
    """`User`, `Bot` or `Organization`, as GitHub reports it."""

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


@dataclass(frozen=True)
class IssueCommentEvent:
    action: str
    repo: str
    number: int
    is_pull_request: bool
    comment_id: int
    body: str
    author: Actor
    sender: Actor
    via_app_id: Optional[int]
    """`comment.performed_via_github_app.id`: set when an App (maybe this one) wrote the comment."""
    html_url: str


@dataclass(frozen=True)
class PullRequestEvent:
    action: str
    repo: str
    number: int
    sender: Actor
    label: Optional[str]
    merged: bool


def _get(data: Mapping[str, Any], *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise EventError("payload has no " + ".".join(path))
        node = node[key]
    return node


def _str(data: Mapping[str, Any], *path: str) -> str:
    value = _get(data, *path)
    if not isinstance(value, str):
        raise EventError(".".join(path) + " is not a string")
    return value


def _int(data: Mapping[str, Any], *path: str) -> int:
    value = _get(data, *path)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventError(".".join(path) + " is not an integer")
    return value


def _actor(data: Mapping[str, Any], *path: str) -> Actor:
    return Actor(login=_str(data, *path, "login"), type=str(_get(data, *path).get("type", "User")))


def issue_comment(payload: Mapping[str, Any]) -> IssueCommentEvent:
    app = _get(payload, "comment").get("performed_via_github_app")
    app_id = app.get("id") if isinstance(app, dict) else None
    body = _get(payload, "comment", "body")
    return IssueCommentEvent(
        action=_str(payload, "action"),
        repo=_str(payload, "repository", "full_name"),
        number=_int(payload, "issue", "number"),
        is_pull_request=isinstance(_get(payload, "issue").get("pull_request"), dict),
        comment_id=_int(payload, "comment", "id"),
        body=body if isinstance(body, str) else "",
        author=_actor(payload, "comment", "user"),
        sender=_actor(payload, "sender"),
        via_app_id=app_id if isinstance(app_id, int) else None,
        html_url=str(_get(payload, "comment").get("html_url", "")),
    )


def pull_request(payload: Mapping[str, Any]) -> PullRequestEvent:
    label = payload.get("label")
    name = label.get("name") if isinstance(label, dict) else None
    return PullRequestEvent(
        action=_str(payload, "action"),
        repo=_str(payload, "repository", "full_name"),
        number=_int(payload, "pull_request", "number"),
        sender=_actor(payload, "sender"),
        label=name if isinstance(name, str) else None,
        merged=_get(payload, "pull_request").get("merged") is True,
    )
