"""The world the fake GitHub serves: one App with one installation, repos, PRs, comments, reactions, labels.

Separate from the HTTP layer so the rules (who may do what, what GitHub answers) read in one place.
Every public method takes the lock, and dicts handed out are deep copies, so handlers on several
waitress threads and the test thread can use one instance safely.
"""

from __future__ import annotations

import calendar
import copy
import secrets
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import github_objects as objects

JSON = Dict[str, Any]
MAX_JWT_LIFETIME = 600
JWT_LEEWAY = 60
APP_PERMISSIONS = {
    "checks": "write",
    "contents": "read",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


class ApiError(Exception):
    """An error GitHub would answer with; the server turns it into `{"message", "documentation_url"}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def _not_found() -> ApiError:
    return ApiError(404, "Not Found")


class GitHubState:
    """Thread-safe state plus GitHub's rules for it; knows nothing about HTTP."""

    def __init__(self, *, app_id: int, slug: str, installation_id: int, token_ttl: float, api: str) -> None:
        self.app_id = app_id
        self.slug = slug
        self.installation_id = installation_id
        self.token_ttl = token_ttl
        self.api = api
        self.token_mints = 0
        self._lock = threading.RLock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._tokens: Dict[str, float] = {}
        self._repos: Dict[str, JSON] = {}
        self._pulls: Dict[Tuple[str, int], JSON] = {}
        self._comments: Dict[int, JSON] = {}
        self._comment_order: Dict[Tuple[str, int], List[int]] = {}
        self._reactions: Dict[int, List[JSON]] = {}
        self._repo_labels: Dict[Tuple[str, str], JSON] = {}
        self._issue_labels: Dict[Tuple[str, int], List[str]] = {}
        self._next_id = 1000
        self._created = time.time()
        self.bot_user = objects.user(f"{slug}[bot]", user_type="Bot", api=api)
        owner = objects.user(f"{slug}-owner", user_type="Organization", api=api)
        self.app = objects.app(
            app_id, slug, owner=owner, created_at=objects.iso(self._created), permissions=APP_PERMISSIONS
        )

    # --- App identity and tokens -------------------------------------------------------------------

    def app_jwt(self, *, issued_at: Optional[float] = None, lifetime: float = 540) -> str:
        """A JWT as the App would sign it (for tests that talk HTTP without PyGithub)."""
        iat = int(time.time() - 60 if issued_at is None else issued_at)
        claims = {"iat": iat, "exp": int(iat + lifetime), "iss": str(self.app_id)}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def authenticate_app(self, authorization: str) -> None:
        """Accept only `Bearer <JWT>` signed RS256 by the App key, issued by the App, short-lived."""
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise ApiError(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                credential.strip(),
                self._key.public_key(),
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise ApiError(
                401, "'Expiration time' claim ('exp') must be a numeric value in the future"
            ) from error
        except jwt.InvalidTokenError as error:
            raise ApiError(401, "A JSON web token could not be decoded") from error
        if str(claims["iss"]) != str(self.app_id):
            raise ApiError(401, "'Issuer' claim ('iss') does not identify this integration")
        if claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME + JWT_LEEWAY:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")

    def mint_token(self, installation_id: int, permissions: Optional[Dict[str, str]] = None) -> JSON:
        """A fresh `ghs_` installation token valid for `token_ttl` seconds."""
        if installation_id != self.installation_id:
            raise _not_found()
        with self._lock:
            token = "ghs_" + secrets.token_hex(18)
            expires = time.time() + self.token_ttl
            self._tokens[token] = expires
            self.token_mints += 1
        granted = dict(permissions or APP_PERMISSIONS)
        return {
            "token": token,
            "expires_at": objects.iso(expires),
            "permissions": granted,
            "repository_selection": "all",
        }

    def issue_token(self) -> str:
        """An installation token without the JWT dance (for tests of other things)."""
        return str(self.mint_token(self.installation_id)["token"])

    def expire_tokens(self) -> None:
        """Let every token issued so far run out now."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def authenticate_installation(self, authorization: str) -> None:
        """Accept `token <t>` or `Bearer <t>` for an issued, unexpired installation token."""
        scheme, _, credential = authorization.partition(" ")
        with self._lock:
            expires = self._tokens.get(credential.strip())
        if scheme.lower() not in ("token", "bearer") or expires is None or expires <= time.time():
            raise ApiError(401, "Bad credentials")

    # --- Repositories and pull requests ------------------------------------------------------------

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        clone_url: Optional[str] = None,
        ssh_url: Optional[str] = None,
        default_branch: str = "main",
        owner_type: str = "User",
        fork: bool = False,
    ) -> JSON:
        owner_login, _, name = full_name.partition("/")
        if not owner_login or not name or "/" in name:
            raise ValueError(f"expected 'owner/name', got {full_name!r}")
        repo = objects.repository(
            full_name,
            repo_id=self._new_id(),
            owner=objects.user(owner_login, user_type=owner_type, api=self.api),
            private=private,
            clone_url=clone_url or f"{objects.WEB_URL}/{full_name}.git",
            ssh_url=ssh_url or f"git@github.com:{full_name}.git",
            default_branch=default_branch,
            created_at=objects.iso(time.time()),
            fork=fork,
            api=self.api,
        )
        with self._lock:
            self._repos[full_name] = repo
        return copy.deepcopy(repo)

    def get_repo(self, full_name: str) -> JSON:
        with self._lock:
            repo = self._repos.get(full_name)
            if repo is None:
                raise _not_found()
            return copy.deepcopy(repo)

    def add_pull(
        self,
        full_name: str,
        number: int,
        *,
        title: str,
        user_login: str,
        base_ref: str,
        base_sha: str,
        head_ref: str,
        head_sha: str,
        head_repo_full_name: Optional[str],
        state: str,
        merged: bool,
    ) -> JSON:
        """Store a PR (and its head repo as a fork when it is not known yet)."""
        head_name = head_repo_full_name or full_name
        with self._lock:
            base_repo = self.get_repo(full_name)
            if head_name not in self._repos:
                self.add_repo(head_name, fork=True)
            self._pulls[(full_name, number)] = objects.pull_request(
                base_repo=base_repo,
                head_repo=self.get_repo(head_name),
                number=number,
                pr_id=self._new_id(),
                title=title,
                author=objects.user(user_login, api=self.api),
                base_ref=base_ref,
                base_sha=base_sha,
                head_ref=head_ref,
                head_sha=head_sha,
                state=state,
                merged=merged,
                created_at=objects.iso(time.time()),
                api=self.api,
            )
            self._comment_order.setdefault((full_name, number), [])
            return self.get_pull(full_name, number)

    def update_pull(
        self,
        full_name: str,
        number: int,
        *,
        state: Optional[str] = None,
        merged: Optional[bool] = None,
        head_sha: Optional[str] = None,
    ) -> JSON:
        """Move a PR on (new head commit, closed, merged) the way GitHub's fields change."""
        with self._lock:
            pull = self._issue(full_name, number, self._pulls)
            now = objects.iso(time.time())
            if head_sha is not None:
                pull["head"]["sha"] = head_sha
                pull["statuses_url"] = pull["statuses_url"].rsplit("/", 1)[0] + f"/{head_sha}"
                pull["_links"]["statuses"]["href"] = pull["statuses_url"]
            if merged:
                pull.update(merged=True, merged_at=now, merged_by=pull["user"], state="closed")
            if state is not None:
                pull["state"] = state
            closed = pull["state"] == "closed"
            pull["closed_at"] = (pull["closed_at"] or now) if closed else None
            pull["mergeable"] = pull["rebaseable"] = None if closed else True
            pull["mergeable_state"] = "unknown" if closed else "clean"
            pull["updated_at"] = now
            return self.get_pull(full_name, number)

    def get_pull(self, full_name: str, number: int) -> JSON:
        with self._lock:
            pull = self._pulls.get((full_name, number))
            if pull is None:
                raise _not_found()
            rendered = copy.deepcopy(pull)
            rendered["labels"] = self.list_labels(full_name, number)
            rendered["comments"] = len(self._comment_order[(full_name, number)])
            return rendered

    # --- Issue comments and reactions --------------------------------------------------------------

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        author: JSON,
        via_app: bool,
        association: str = "NONE",
    ) -> JSON:
        with self._lock:
            order = self._issue(full_name, number, self._comment_order)
            comment_id = self._new_id()
            comment = objects.issue_comment(
                full_name,
                number,
                comment_id=comment_id,
                body=body,
                author=author,
                created_at=objects.iso(time.time()),
                via_app=copy.deepcopy(self.app) if via_app else None,
                author_association=association,
                api=self.api,
            )
            self._comments[comment_id] = comment
            self._reactions[comment_id] = []
            order.append(comment_id)
            return copy.deepcopy(comment)

    def list_comments(self, full_name: str, number: int) -> List[JSON]:
        with self._lock:
            order = self._issue(full_name, number, self._comment_order)
            return [copy.deepcopy(self._comments[comment_id]) for comment_id in order]

    def get_comment(self, full_name: str, comment_id: int) -> JSON:
        with self._lock:
            return copy.deepcopy(self._comment(full_name, comment_id))

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> JSON:
        """Replace the body; `updated_at` moves forward by at least one second, like a real edit."""
        with self._lock:
            comment = self._comment(full_name, comment_id)
            previous = calendar.timegm(time.strptime(comment["updated_at"], "%Y-%m-%dT%H:%M:%SZ"))
            comment["body"] = body
            comment["updated_at"] = objects.iso(max(time.time(), previous + 1))
            return copy.deepcopy(comment)

    def add_reaction(
        self, full_name: str, comment_id: int, content: str, *, author: JSON
    ) -> Tuple[JSON, bool]:
        """(reaction, created): an identical reaction by the same user is returned again, not duplicated."""
        if content not in REACTIONS:
            raise ApiError(422, "Validation Failed")
        with self._lock:
            comment = self._comment(full_name, comment_id)
            existing = self._reactions[comment_id]
            for item in existing:
                if item["content"] == content and item["user"]["login"] == author["login"]:
                    return copy.deepcopy(item), False
            item = objects.reaction(
                self._new_id(), content, author=author, created_at=objects.iso(time.time())
            )
            existing.append(item)
            comment["reactions"] = objects.reaction_rollup(comment["url"], existing)
            return copy.deepcopy(item), True

    def reactions(self, comment_id: int) -> List[JSON]:
        with self._lock:
            return copy.deepcopy(self._reactions.get(comment_id, []))

    # --- Labels ------------------------------------------------------------------------------------

    def add_labels(
        self, full_name: str, number: int, names: List[str], *, replace: bool = False
    ) -> List[JSON]:
        with self._lock:
            self._issue(full_name, number, self._pulls)
            current = [] if replace else self._issue_labels.setdefault((full_name, number), [])
            for name in names:
                if (full_name, name) not in self._repo_labels:
                    self._repo_labels[(full_name, name)] = objects.label(
                        full_name, name, label_id=objects.label_id_for(full_name, name), api=self.api
                    )
                if name not in current:
                    current.append(name)
            self._issue_labels[(full_name, number)] = current
            return self.list_labels(full_name, number)

    def remove_label(self, full_name: str, number: int, name: str) -> List[JSON]:
        with self._lock:
            self._issue(full_name, number, self._pulls)
            current = self._issue_labels.get((full_name, number), [])
            if name not in current:
                raise ApiError(404, "Label does not exist")
            current.remove(name)
            return self.list_labels(full_name, number)

    def list_labels(self, full_name: str, number: int) -> List[JSON]:
        with self._lock:
            self._issue(full_name, number, self._pulls)
            names = self._issue_labels.get((full_name, number), [])
            return [copy.deepcopy(self._repo_labels[(full_name, name)]) for name in names]

    # --- lookups -----------------------------------------------------------------------------------

    def _issue(self, full_name: str, number: int, table: Dict[Tuple[str, int], Any]) -> Any:
        if (full_name, number) not in table:
            raise _not_found()
        return table[(full_name, number)]

    def _comment(self, full_name: str, comment_id: int) -> JSON:
        comment = self._comments.get(comment_id)
        if comment is None or not comment["url"].startswith(f"{self.api}/repos/{full_name}/"):
            raise _not_found()
        return comment
