"""`check_run` webhook payloads built from GitHub's recorded examples (npm @octokit/webhooks-examples).

The check run in them is the one given (as GitHub or the memory adapter shows it); `pull_requests` is
left empty, as GitHub sends it for a PR from a fork, so that nothing can find the job through it.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional

from tests.fakes import github_objects as objects
from tests.fakes.webhooks import examples

JSON = Dict[str, Any]


def check_run_payload(action: str, run: Mapping[str, Any], *, repo: str, app_id: int, sender_login: str,
                      sender_type: str = "User", identifier: Optional[str] = None,
                      installation_id: Optional[int] = None) -> JSON:
    """A `check_run` delivery of `action` about `run` (its `id`, `name`, `head_sha`, `external_id`,
    `status`, `conclusion`), made by App `app_id`; `identifier` is the requested action's."""
    chosen = [p for p in examples("check_run", action) if "installation" in p] or examples("check_run", action)
    payload = chosen[0]
    owner, name = repo.split("/", 1)
    payload["repository"].update(full_name=repo, name=name, owner=objects.user(owner))
    check_run = payload["check_run"]
    for field in ("id", "name", "head_sha", "external_id", "status", "conclusion"):
        check_run[field] = run.get(field)
    check_run["html_url"] = f"{objects.WEB_URL}/{repo}/runs/{run['id']}"
    check_run["pull_requests"] = []
    check_run["check_suite"]["pull_requests"] = []
    check_run["app"]["id"] = app_id
    payload["sender"] = objects.user(sender_login, user_type=sender_type)
    if identifier is not None:
        payload["requested_action"] = {"identifier": identifier}
    else:
        payload.pop("requested_action", None)
    if installation_id is None:
        payload.pop("installation", None)
    else:
        payload["installation"] = {"id": installation_id,
                                   "node_id": objects.node_id("IntegrationInstallation", installation_id)}
    return copy.deepcopy(payload)
