"""Webhook deliveries built from real GitHub payloads (npm @octokit/webhooks-examples), signed like GitHub.

Starting from recorded payloads instead of hand-written dicts keeps every field GitHub really sends;
the builders only retarget repo, numbers and people, and add what the examples lack (no `issue_comment`
example is on a pull request, so `issue.pull_request` is added here).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern

from tests.fakes import github_objects as objects
from tests.fakes.fixtures import webhook_examples_path

JSON = Dict[str, Any]
EXAMPLE_REPO = "Codertocat/Hello-World"
USER_AGENT = "GitHub-Hookshot/8f1c2a7"
_comment_ids = itertools.count(2_100_000_000)


@lru_cache(maxsize=4)
def _load(path: Path) -> Dict[str, List[JSON]]:
    with path.open(encoding="utf-8") as handle:
        events = json.load(handle)
    return {event["name"]: event["examples"] for event in events}


def examples(event: str, action: Optional[str] = None) -> List[JSON]:
    """Deep copies of the recorded payloads for `event` (only those with `action`, when given)."""
    recorded = _load(webhook_examples_path())
    if event not in recorded:
        raise KeyError(f"no webhook examples for event {event!r}; known: {', '.join(sorted(recorded))}")
    chosen = [payload for payload in recorded[event] if action is None or payload.get("action") == action]
    return copy.deepcopy(chosen)


def _base_example(event: str, action: str, fallback: str) -> JSON:
    """The richest example (one with `installation`) for the action, else for `fallback`."""
    candidates = examples(event, action) or examples(event, fallback)
    with_installation = [payload for payload in candidates if "installation" in payload]
    payload = (with_installation or candidates)[0]
    payload["action"] = action
    return payload


def _replace_strings(payload: JSON, pattern: Pattern[str], replacement: str) -> JSON:
    """A copy of `payload` with `pattern` substituted in every string value."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return pattern.sub(replacement, node)
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    return {key: walk(value) for key, value in payload.items()}


def _retarget(payload: JSON, full_name: str) -> JSON:
    """Point every URL and repo object (top level, PR base/head) at `full_name` instead of the
    examples' Codertocat/Hello-World; branch owners and labels follow."""
    payload = _replace_strings(payload, re.compile(re.escape(EXAMPLE_REPO)), full_name)
    owner_login, name = full_name.split("/", 1)
    pull = payload.get("pull_request")
    branches = [pull["base"], pull["head"]] if isinstance(pull, dict) else []
    repos = [
        payload["repository"],
        *(branch["repo"] for branch in branches if isinstance(branch.get("repo"), dict)),
    ]
    owner = objects.user(owner_login, user_type=payload["repository"]["owner"].get("type", "User"))
    for repo in repos:
        repo.update(name=name, full_name=full_name, owner=copy.deepcopy(owner))
        repo["clone_url"] = f"{objects.WEB_URL}/{full_name}.git"
        repo["ssh_url"] = f"git@github.com:{full_name}.git"
    for branch in branches:
        branch["user"] = copy.deepcopy(owner)
        branch["label"] = f"{owner_login}:{branch['ref']}"
    return payload


def _renumber(payload: JSON, full_name: str, old: int, new: int) -> JSON:
    pattern = re.compile(rf"({re.escape(full_name)}/(?:issues|pulls|pull)/){old}(?![0-9])")
    return _replace_strings(payload, pattern, rf"\g<1>{new}")


def _set_installation(payload: JSON, installation_id: Optional[int]) -> None:
    if installation_id is None:
        payload.pop("installation", None)
    else:
        payload["installation"] = {
            "id": installation_id,
            "node_id": objects.node_id("IntegrationInstallation", installation_id),
        }


def pr_comment_payload(
    body: str,
    *,
    repo: str = EXAMPLE_REPO,
    pr_number: int = 1,
    comment_id: Optional[int] = None,
    sender_login: str = "alice",
    sender_type: str = "User",
    installation_id: Optional[int] = None,
    action: str = "created",
    performed_via_github_app: Optional[JSON] = None,
) -> JSON:
    """An `issue_comment` delivery for a comment on pull request `repo#pr_number`."""
    payload = _base_example("issue_comment", action, "created")
    payload = _retarget(payload, repo)
    payload = _renumber(payload, repo, payload["issue"]["number"], pr_number)
    comment_id = next(_comment_ids) if comment_id is None else comment_id
    sender = objects.user(sender_login, user_type=sender_type)
    pr_html = f"{objects.WEB_URL}/{repo}/pull/{pr_number}"
    issue = payload["issue"]
    issue.update(number=pr_number, html_url=pr_html)
    issue["pull_request"] = {
        "url": f"{objects.API_URL}/repos/{repo}/pulls/{pr_number}",
        "html_url": pr_html,
        "diff_url": f"{pr_html}.diff",
        "patch_url": f"{pr_html}.patch",
        "merged_at": None,
    }
    comment_url = f"{objects.API_URL}/repos/{repo}/issues/comments/{comment_id}"
    now = objects.iso(time.time())
    payload["comment"].update(
        id=comment_id,
        node_id=objects.node_id("IssueComment", comment_id),
        url=comment_url,
        html_url=f"{pr_html}#issuecomment-{comment_id}",
        issue_url=f"{objects.API_URL}/repos/{repo}/issues/{pr_number}",
        body=body,
        user=sender,
        created_at=now,
        updated_at=now,
        author_association="OWNER" if sender_login == repo.split("/", 1)[0] else "NONE",
        performed_via_github_app=copy.deepcopy(performed_via_github_app),
        reactions=objects.reaction_rollup(comment_url, []),
    )
    payload["sender"] = copy.deepcopy(sender)
    _set_installation(payload, installation_id)
    return payload


def pr_payload(
    action: str,
    *,
    repo: str = EXAMPLE_REPO,
    number: int = 1,
    label: Optional[str] = None,
    sender_login: str = "alice",
    sender_type: str = "User",
    merged: bool = False,
    installation_id: Optional[int] = None,
    head_sha: Optional[str] = None,
    base_ref: Optional[str] = None,
    author_login: Optional[str] = None,
) -> JSON:
    """A `pull_request` delivery; actions without a recorded example start from `opened`.
    The PR author is `author_login`, defaulting to the sender."""
    payload = _base_example("pull_request", action, "opened")
    payload = _retarget(payload, repo)
    pull = payload["pull_request"]
    payload = _renumber(payload, repo, pull["number"], number)
    pull = payload["pull_request"]
    payload["number"] = pull["number"] = number
    sender = objects.user(sender_login, user_type=sender_type)
    payload["sender"] = copy.deepcopy(sender)
    pull["user"] = objects.user(author_login) if author_login else copy.deepcopy(sender)
    if head_sha is not None:
        pull["head"]["sha"] = head_sha
        pull["statuses_url"] = pull["statuses_url"].rsplit("/", 1)[0] + f"/{head_sha}"
        pull["_links"]["statuses"]["href"] = pull["statuses_url"]
    if base_ref is not None:
        pull["base"].update(ref=base_ref, label=f"{repo.split('/', 1)[0]}:{base_ref}")
    if label is not None:
        label_object = objects.label(repo, label, label_id=objects.label_id_for(repo, label))
        payload["label"] = label_object
        others = [item for item in pull["labels"] if item["name"] != label]
        pull["labels"] = [*others, label_object] if action != "unlabeled" else others
    if merged:
        now = objects.iso(time.time())
        pull.update(merged=True, merged_at=now, merged_by=copy.deepcopy(sender), state="closed")
        pull["closed_at"] = pull.get("closed_at") or now
        pull["merge_commit_sha"] = pull.get("merge_commit_sha") or secrets.token_hex(20)
    _set_installation(payload, installation_id)
    return payload


def encode(payload: JSON) -> bytes:
    """The exact bytes GitHub (Node's JSON.stringify) would send: compact, UTF-8, non-ASCII kept."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """`X-Hub-Signature-256` value for these exact bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign_sha1(body: bytes, secret: str) -> str:
    """Legacy `X-Hub-Signature` value (still sent by GitHub, still checked by some tools)."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def delivery_headers(
    event: str, body: bytes, secret: str, delivery_id: Optional[str] = None
) -> Dict[str, str]:
    """The headers of one GitHub App delivery of `body`."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature": sign_sha1(body, secret),
        "X-Hub-Signature-256": sign(body, secret),
    }
