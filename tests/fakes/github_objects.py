"""Factories for GitHub REST objects with every field the OpenAPI schemas require.

Kept apart from the server so the fake's handlers stay short and so webhook builders can reuse the same
user objects (ids are derived from the login, so a user looks the same in payloads and API responses).
"""

from __future__ import annotations

import base64
import time
import zlib
from typing import Any, Dict, List, Optional
from urllib.parse import quote

JSON = Dict[str, Any]
API_URL = "https://api.github.com"
WEB_URL = "https://github.com"
DOCS_URL = "https://docs.github.com/rest"


def iso(timestamp: float) -> str:
    """ISO 8601 UTC with a `Z`, second precision, as GitHub renders timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def stable_id(text: str) -> int:
    """A plausible 8-digit id that is the same for the same text in every run and every fake."""
    return 10_000_000 + zlib.crc32(text.encode("utf-8")) % 90_000_000


def user_id_for(login: str) -> int:
    """Users get the same id in webhook payloads and in API responses."""
    return stable_id(f"user:{login}")


def label_id_for(full_name: str, name: str) -> int:
    """Labels, likewise, get one id per repo and name."""
    return stable_id(f"label:{full_name}:{name}")


def node_id(kind: str, number: int) -> str:
    """Legacy-style GraphQL node id (base64 of `0<len>:<Kind><id>`), unique per kind and id."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def error_body(message: str) -> JSON:
    """GitHub's error JSON shape."""
    return {"message": message, "documentation_url": DOCS_URL}


def user(login: str, *, user_type: str = "User", api: str = API_URL, html_url: Optional[str] = None) -> JSON:
    """A `simple-user`; bots get an `/apps/<slug>` profile like real App bot users."""
    user_id = user_id_for(login)
    if html_url is None:
        if user_type == "Bot" and login.endswith("[bot]"):
            html_url = f"{WEB_URL}/apps/{login[: -len('[bot]')]}"
        else:
            html_url = f"{WEB_URL}/{login}"
    escaped = quote(login)
    base = f"{api}/users/{escaped}"
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id("Bot" if user_type == "Bot" else user_type, user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": html_url,
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": user_type,
        "user_view_type": "public",
        "site_admin": False,
    }


def app(app_id: int, slug: str, *, owner: JSON, created_at: str, permissions: Dict[str, str]) -> JSON:
    """An `integration` (GitHub App) object as served by `GET /app` and `performed_via_github_app`."""
    return {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("App", app_id),
        "client_id": f"Iv1.{app_id:016x}",
        "owner": owner,
        "name": slug.replace("-", " ").title(),
        "description": "Build-and-deploy bot (test double)",
        "external_url": f"https://example.org/{slug}",
        "html_url": f"{WEB_URL}/apps/{slug}",
        "created_at": created_at,
        "updated_at": created_at,
        "permissions": dict(permissions),
        "events": ["issue_comment", "pull_request"],
        "installations_count": 1,
    }


def repository(
    full_name: str,
    *,
    repo_id: int,
    owner: JSON,
    private: bool,
    clone_url: str,
    ssh_url: str,
    default_branch: str,
    created_at: str,
    fork: bool = False,
    api: str = API_URL,
) -> JSON:
    """A repository object that satisfies both `repository` and `full-repository`."""
    name = full_name.split("/", 1)[1]
    base = f"{api}/repos/{full_name}"
    html = f"{WEB_URL}/{full_name}"
    return {
        "id": repo_id,
        "node_id": node_id("Repository", repo_id),
        "name": name,
        "full_name": full_name,
        "owner": owner,
        "private": private,
        "visibility": "private" if private else "public",
        "html_url": html,
        "description": None,
        "fork": fork,
        "url": base,
        "archive_url": f"{base}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{base}/assignees{{/user}}",
        "blobs_url": f"{base}/git/blobs{{/sha}}",
        "branches_url": f"{base}/branches{{/branch}}",
        "collaborators_url": f"{base}/collaborators{{/collaborator}}",
        "comments_url": f"{base}/comments{{/number}}",
        "commits_url": f"{base}/commits{{/sha}}",
        "compare_url": f"{base}/compare/{{base}}...{{head}}",
        "contents_url": f"{base}/contents/{{+path}}",
        "contributors_url": f"{base}/contributors",
        "deployments_url": f"{base}/deployments",
        "downloads_url": f"{base}/downloads",
        "events_url": f"{base}/events",
        "forks_url": f"{base}/forks",
        "git_commits_url": f"{base}/git/commits{{/sha}}",
        "git_refs_url": f"{base}/git/refs{{/sha}}",
        "git_tags_url": f"{base}/git/tags{{/sha}}",
        "git_url": f"git://github.com/{full_name}.git",
        "issue_comment_url": f"{base}/issues/comments{{/number}}",
        "issue_events_url": f"{base}/issues/events{{/number}}",
        "issues_url": f"{base}/issues{{/number}}",
        "keys_url": f"{base}/keys{{/key_id}}",
        "labels_url": f"{base}/labels{{/name}}",
        "languages_url": f"{base}/languages",
        "merges_url": f"{base}/merges",
        "milestones_url": f"{base}/milestones{{/number}}",
        "notifications_url": f"{base}/notifications{{?since,all,participating}}",
        "pulls_url": f"{base}/pulls{{/number}}",
        "releases_url": f"{base}/releases{{/id}}",
        "ssh_url": ssh_url,
        "stargazers_url": f"{base}/stargazers",
        "statuses_url": f"{base}/statuses/{{sha}}",
        "subscribers_url": f"{base}/subscribers",
        "subscription_url": f"{base}/subscription",
        "tags_url": f"{base}/tags",
        "teams_url": f"{base}/teams",
        "trees_url": f"{base}/git/trees{{/sha}}",
        "clone_url": clone_url,
        "mirror_url": None,
        "hooks_url": f"{base}/hooks",
        "svn_url": html,
        "homepage": None,
        "language": "Python",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 100,
        "default_branch": default_branch,
        "open_issues_count": 0,
        "open_issues": 0,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "pushed_at": created_at,
        "created_at": created_at,
        "updated_at": created_at,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "license": None,
        "network_count": 0,
        "subscribers_count": 0,
    }


def label(full_name: str, name: str, *, label_id: int, api: str = API_URL) -> JSON:
    """A repository `label`."""
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{api}/repos/{full_name}/labels/{quote(name, safe='')}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def reaction_rollup(comment_url: str, reactions: List[JSON]) -> JSON:
    """The `reactions` summary embedded in comments."""
    rollup: JSON = {"url": f"{comment_url}/reactions", "total_count": len(reactions)}
    for content in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"):
        rollup[content] = sum(1 for item in reactions if item["content"] == content)
    return rollup


def issue_comment(
    full_name: str,
    number: int,
    *,
    comment_id: int,
    body: str,
    author: JSON,
    created_at: str,
    via_app: Optional[JSON] = None,
    author_association: str = "NONE",
    api: str = API_URL,
) -> JSON:
    """An `issue-comment` on pull request `number` (PRs are issues; their html_url says /pull/)."""
    url = f"{api}/repos/{full_name}/issues/comments/{comment_id}"
    return {
        "id": comment_id,
        "node_id": node_id("IssueComment", comment_id),
        "url": url,
        "html_url": f"{WEB_URL}/{full_name}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"{api}/repos/{full_name}/issues/{number}",
        "body": body,
        "user": author,
        "created_at": created_at,
        "updated_at": created_at,
        "author_association": author_association,
        "performed_via_github_app": via_app,
        "reactions": reaction_rollup(url, []),
    }


def reaction(reaction_id: int, content: str, *, author: JSON, created_at: str) -> JSON:
    """A `reaction`."""
    return {
        "id": reaction_id,
        "node_id": node_id("Reaction", reaction_id),
        "user": author,
        "content": content,
        "created_at": created_at,
    }


def pull_request(
    *,
    base_repo: JSON,
    head_repo: JSON,
    number: int,
    pr_id: int,
    title: str,
    author: JSON,
    base_ref: str,
    base_sha: str,
    head_ref: str,
    head_sha: str,
    state: str,
    merged: bool,
    created_at: str,
    api: str = API_URL,
) -> JSON:
    """A full `pull-request` (as `GET /repos/{owner}/{repo}/pulls/{n}` returns it) without labels/comments,
    which the caller fills in from live state."""
    full_name = base_repo["full_name"]
    base = f"{api}/repos/{full_name}"
    html = f"{WEB_URL}/{full_name}/pull/{number}"
    links = {
        "self": f"{base}/pulls/{number}",
        "html": html,
        "issue": f"{base}/issues/{number}",
        "comments": f"{base}/issues/{number}/comments",
        "review_comments": f"{base}/pulls/{number}/comments",
        "review_comment": f"{base}/pulls/comments{{/number}}",
        "commits": f"{base}/pulls/{number}/commits",
        "statuses": f"{base}/statuses/{head_sha}",
    }
    closed = state == "closed" or merged
    return {
        "url": links["self"],
        "id": pr_id,
        "node_id": node_id("PullRequest", pr_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": number,
        "state": "closed" if closed else "open",
        "locked": False,
        "title": title,
        "user": author,
        "body": None,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": created_at,
        "updated_at": created_at,
        "closed_at": created_at if closed else None,
        "merged_at": created_at if merged else None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _pr_branch(head_repo, head_ref, head_sha),
        "base": _pr_branch(base_repo, base_ref, base_sha),
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": False,
        "merged": merged,
        "mergeable": None if closed else True,
        "rebaseable": None if closed else True,
        "mergeable_state": "unknown" if closed else "clean",
        "merged_by": author if merged else None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 1,
        "deletions": 0,
        "changed_files": 1,
    }


def _pr_branch(repo: JSON, ref: str, sha: str) -> JSON:
    return {
        "label": f"{repo['owner']['login']}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": repo["owner"],
        "repo": repo,
    }
