"""Check runs on the fake GitHub: create, update, get and list, as GitHub serves them to an App.

Requests are checked against the request schemas of GitHub's OpenAPI description (a problem is recorded
in the journal's `schema_errors` and answered 422, as GitHub answers a malformed request), responses by
the fake's usual hook. Every state a check run was written with is kept (`history`), so a test can see
`queued` → `in_progress` → `completed`. Like GitHub for a PR from a fork, a check run's `pull_requests`
is empty: the bot must find its job without it. `allowed = False` answers every call as GitHub answers
an App without the Checks permission (403 "Resource not accessible by integration").
`event(...)` makes the `check_run` webhook payload GitHub sends when someone clicks Re-run or a button.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from flask import Flask, Response, request
from openapi_schema_validator import OAS30Validator

from tests.fakes import github_objects as objects
from tests.fakes.check_runs import check_run_payload
from tests.fakes.github_http import Journal, json_response
from tests.fakes.github_state import ApiError, GitHubState
from tests.fakes.openapi import GitHubSchema

JSON = Dict[str, Any]
NO_PERMISSION = "Resource not accessible by integration"
_WRITABLE = ("name", "details_url", "external_id", "status", "conclusion", "started_at", "completed_at")


class CheckRuns:
    """The check runs of every repository, by id; thread-safe."""

    def __init__(self, state: GitHubState, journal: Journal, schema: Optional[GitHubSchema]) -> None:
        self.state = state
        self.journal = journal
        self.allowed = True
        self._validators: Dict[Tuple[str, str], OAS30Validator] = {}
        if schema is not None:
            for path, method in (("/repos/{owner}/{repo}/check-runs", "post"),
                                 ("/repos/{owner}/{repo}/check-runs/{check_run_id}", "patch")):
                body = schema.spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                self._validators[(path, method)] = OAS30Validator(body)
        self._runs: Dict[int, JSON] = {}
        self._history: Dict[int, List[Tuple[str, Optional[str]]]] = {}
        self._ids = itertools.count(30_000_000_001)
        self._suites = itertools.count(20_000_000_001)
        self._lock = threading.Lock()

    # --- what tests look at ------------------------------------------------------------------------

    def runs(self, full_name: Optional[str] = None) -> List[JSON]:
        """Every check run (of one repository), oldest first."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._runs.values()
                    if full_name is None or r["url"].endswith(f"/repos/{full_name}/check-runs/{r['id']}")]

    def history(self, run_id: int) -> List[Tuple[str, Optional[str]]]:
        """(status, conclusion) of every write of the check run, in order."""
        with self._lock:
            return list(self._history[run_id])

    def event(self, run_id: int, action: str, sender_login: str, *, identifier: Optional[str] = None,
              sender_type: str = "User") -> JSON:
        """The `check_run` payload GitHub sends this App for `action` on the check run (Re-run:
        `rerequested`; a button: `requested_action` with its identifier)."""
        with self._lock:
            run = copy.deepcopy(self._runs[run_id])
        full_name = run["url"].split("/repos/", 1)[1].rsplit("/check-runs/", 1)[0]
        return check_run_payload(action, run, repo=full_name, app_id=self.state.app_id, sender_login=sender_login,
                                 sender_type=sender_type, identifier=identifier,
                                 installation_id=self.state.installation_id)

    # --- GitHub's rules ----------------------------------------------------------------------------

    def create(self, full_name: str, body: Any) -> JSON:
        self._check(("/repos/{owner}/{repo}/check-runs", "post"), body)
        self.state.get_repo(full_name)
        run_id = next(self._ids)
        api = f"{self.state.api}/repos/{full_name}/check-runs/{run_id}"
        run: JSON = {
            "id": run_id, "node_id": objects.node_id("CheckRun", run_id), "head_sha": body["head_sha"],
            "external_id": "", "url": api, "html_url": f"{objects.WEB_URL}/{full_name}/runs/{run_id}",
            "details_url": None, "status": "queued", "conclusion": None, "started_at": objects.iso(time.time()),
            "completed_at": None, "name": body["name"],
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                       "annotations_url": f"{api}/annotations"},
            "check_suite": {"id": next(self._suites)}, "app": copy.deepcopy(self.state.app), "pull_requests": [],
        }
        with self._lock:
            self._runs[run_id] = run
            self._history[run_id] = []
            return self._apply(run, body)

    def update(self, full_name: str, run_id: int, body: Any) -> JSON:
        self._check(("/repos/{owner}/{repo}/check-runs/{check_run_id}", "patch"), body)
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or not run["url"].endswith(f"/repos/{full_name}/check-runs/{run_id}"):
                raise ApiError(404, "Not Found")
            return self._apply(run, body)

    def get(self, full_name: str, run_id: int) -> JSON:
        self._permitted()
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or not run["url"].endswith(f"/repos/{full_name}/check-runs/{run_id}"):
                raise ApiError(404, "Not Found")
            return copy.deepcopy(run)

    def for_ref(self, full_name: str, ref: str, args: Dict[str, str]) -> JSON:
        """`GET /repos/{owner}/{repo}/commits/{ref}/check-runs` with its filters (`filter=latest`, the
        default: the newest check run of each name)."""
        self._permitted()
        with self._lock:
            found = [copy.deepcopy(r) for r in self._runs.values()
                     if r["head_sha"] == ref and r["url"].startswith(f"{self.state.api}/repos/{full_name}/")
                     and args.get("check_name", r["name"]) == r["name"]
                     and args.get("status", r["status"]) == r["status"]
                     and args.get("app_id", str(r["app"]["id"])) == str(r["app"]["id"])]
        if args.get("filter", "latest") == "latest":
            newest = {r["name"]: r for r in found}
            found = list(newest.values())
        found.reverse()
        return {"total_count": len(found), "check_runs": found}

    def _apply(self, run: JSON, body: JSON) -> JSON:
        """`body`'s fields on `run` (called with the lock held), as GitHub applies them: a conclusion
        completes the check run; output and actions are replaced when given."""
        for name in _WRITABLE:
            if name in body:
                run[name] = body[name]
        if body.get("conclusion") is not None:
            run["status"] = "completed"
        if run["status"] == "completed":
            run["completed_at"] = run["completed_at"] or objects.iso(time.time())
        output = body.get("output")
        if isinstance(output, dict):
            run["output"].update({key: output.get(key) for key in ("title", "summary", "text")})
        if "actions" in body:
            run["actions"] = copy.deepcopy(body["actions"])
        self._history[run["id"]].append((run["status"], run["conclusion"]))
        shown = copy.deepcopy(run)
        shown.pop("actions", None)
        return shown

    def _check(self, operation: Tuple[str, str], body: Any) -> None:
        self._permitted()
        if not isinstance(body, dict):
            raise ApiError(400, "Problems parsing JSON")
        validator = self._validators.get(operation)
        problems = [] if validator is None else [error.message for error in validator.iter_errors(body)]
        if body.get("status") == "completed" and body.get("conclusion") is None:
            problems.append("conclusion is required when status is completed")
        for problem in problems:
            self.journal.problem(f"{operation[1].upper()} {operation[0]} request: {problem}")
        if problems:
            raise ApiError(422, f"Invalid request.\n\n{problems[0]}")

    def _permitted(self) -> None:
        if not self.allowed:
            raise ApiError(403, NO_PERMISSION)


def register_routes(app: Flask, state: GitHubState, checks: CheckRuns) -> None:
    """The check-runs routes on the fake's Flask app (its hooks record, fault and schema-check them)."""
    repo = "/repos/<owner>/<repo>"

    def create(owner: str, repo: str) -> Response:
        state.authenticate_installation(request.headers.get("Authorization", ""))
        return json_response(checks.create(f"{owner}/{repo}", request.get_json(silent=True)), 201)

    def update(owner: str, repo: str, run_id: int) -> Response:
        state.authenticate_installation(request.headers.get("Authorization", ""))
        return json_response(checks.update(f"{owner}/{repo}", run_id, request.get_json(silent=True)))

    def get(owner: str, repo: str, run_id: int) -> Response:
        state.authenticate_installation(request.headers.get("Authorization", ""))
        return json_response(checks.get(f"{owner}/{repo}", run_id))

    def for_ref(owner: str, repo: str, ref: str) -> Response:
        state.authenticate_installation(request.headers.get("Authorization", ""))
        return json_response(checks.for_ref(f"{owner}/{repo}", ref, dict(request.args.items())))

    app.add_url_rule(f"{repo}/check-runs", "POST check-runs", create, methods=["POST"])
    app.add_url_rule(f"{repo}/check-runs/<int:run_id>", "PATCH check-run", update, methods=["PATCH"])
    app.add_url_rule(f"{repo}/check-runs/<int:run_id>", "GET check-run", get, methods=["GET"])
    app.add_url_rule(f"{repo}/commits/<ref>/check-runs", "GET commit check-runs", for_ref, methods=["GET"])
