"""The fake GitHub behaves like GitHub as far as PyGithub can tell, and its answers match GitHub's schema."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, Iterator, Optional

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubException, GithubIntegration, RateLimitExceededException
from github.IssueComment import IssueComment
from github.PaginatedList import PaginatedList

from tests.fakes.github_server import FakeGitHub
from tests.fakes.openapi import GitHubSchema

REPO = "EESSI/software-layer"
PR = 7
COMMENTS = f"/repos/{REPO}/issues/{PR}/comments"
HEAD_SHA = "b" * 40
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def schema() -> GitHubSchema:
    return GitHubSchema()


def _seed(server: FakeGitHub) -> None:
    server.add_repo(REPO, owner_type="Organization")
    server.add_pull(
        REPO,
        PR,
        title="Add foo",
        user_login="bob",
        base_sha="a" * 40,
        head_ref="add-foo",
        head_sha=HEAD_SHA,
        head_repo_full_name="bob/software-layer",
    )


@pytest.fixture
def fake(schema: GitHubSchema) -> Iterator[FakeGitHub]:
    with FakeGitHub(schema=schema) as server:
        _seed(server)
        yield server
    assert server.schema_errors == []


def client(fake: FakeGitHub, token: str, *, retry: Any = None, per_page: int = 30) -> Github:
    """PyGithub as the bot uses it; `retry=None` so a test sees each fault instead of PyGithub's retries."""
    return Github(
        base_url=fake.base_url,
        auth=Auth.Token(token),
        per_page=per_page,
        retry=retry,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def integration(fake: FakeGitHub, pem: Optional[str] = None) -> GithubIntegration:
    return GithubIntegration(
        auth=Auth.AppAuth(fake.app_id, pem or fake.private_key_pem),
        base_url=fake.base_url,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def post_comment(gh: Github, body: str) -> Dict[str, Any]:
    _, data = gh.requester.requestJsonAndCheck("POST", COMMENTS, input={"body": body})
    assert isinstance(data, dict)
    return data


# --- App authentication ----------------------------------------------------------------------------


def test_app_token_mint_through_pygithub(fake: FakeGitHub) -> None:
    gi = integration(fake)
    assert gi.get_app().slug == fake.slug
    token = gi.get_access_token(fake.installation_id)
    assert token.token.startswith("ghs_")
    assert 3500 < token.expires_at.timestamp() - time.time() <= 3600
    assert fake.token_mints == 1
    assert post_comment(client(fake, token.token), "hi")["body"] == "hi"


def test_jwt_signed_by_another_key_is_rejected_with_401(fake: FakeGitHub) -> None:
    other_pem = _OTHER_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    stranger = integration(fake, pem=other_pem)
    with pytest.raises(GithubException) as caught:
        stranger.get_access_token(fake.installation_id)
    assert caught.value.status == 401
    assert set(caught.value.data) == {"message", "documentation_url"}
    assert fake.token_mints == 0


def _jwt(fake: FakeGitHub, case: str) -> str:
    """An App JWT with one thing wrong (or not). Signed via PyJWS because PyJWT refuses a non-string
    `iss`, which GitHub accepts (its docs' Ruby sample sends an integer)."""
    now = int(time.time())
    claims: Dict[str, Any] = {"iat": now - 60, "exp": now + 300, "iss": str(fake.app_id)}
    if case == "expired":
        claims.update(iat=now - 700, exp=now - 100)
    elif case == "too long-lived":
        claims.update(iat=now, exp=now + 1200)
    elif case == "wrong issuer":
        claims.update(iss=str(fake.app_id + 1))
    elif case == "issuer as integer":
        claims.update(iss=fake.app_id)
    key: Any = _OTHER_KEY if case == "other key" else fake.private_key_pem
    return jwt.PyJWS().encode(json.dumps(claims).encode(), key, algorithm="RS256")


@pytest.mark.parametrize(
    ("case", "installation_offset", "status"),
    [
        ("valid", 0, 201),
        ("issuer as integer", 0, 201),
        ("valid", 1, 404),
        ("other key", 0, 401),
        ("expired", 0, 401),
        ("too long-lived", 0, 401),
        ("wrong issuer", 0, 401),
    ],
)
def test_token_endpoint_checks_the_app_jwt(
    fake: FakeGitHub, case: str, installation_offset: int, status: int
) -> None:
    url = f"{fake.base_url}/app/installations/{fake.installation_id + installation_offset}/access_tokens"
    response = requests.post(url, headers={"Authorization": f"Bearer {_jwt(fake, case)}"}, timeout=10)
    assert response.status_code == status, response.text
    if status != 201:
        assert set(response.json()) == {"message", "documentation_url"}


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("token {token}", 200),
        ("Bearer {token}", 200),
        ("token ghs_unknown", 401),
        ("Bearer {jwt}", 401),
        ("", 401),
    ],
)
def test_installation_endpoints_need_an_issued_token(
    fake: FakeGitHub, authorization: str, status: int
) -> None:
    header = authorization.format(token=fake.issue_token(), jwt=fake.app_jwt())
    response = requests.get(f"{fake.base_url}/repos/{REPO}", headers={"Authorization": header}, timeout=10)
    assert response.status_code == status
    if status == 401:
        assert response.json()["message"] == "Bad credentials"


def test_expired_installation_token_gets_401_on_post_comments(fake: FakeGitHub) -> None:
    fake.token_ttl = 0.5
    gh = client(fake, integration(fake).get_access_token(fake.installation_id).token)
    time.sleep(0.6)
    with pytest.raises(GithubException) as caught:
        post_comment(gh, "too late")
    assert caught.value.status == 401
    assert fake.comments(REPO, PR) == []


@pytest.mark.parametrize(("ttl", "mints"), [(3600, 1), (10, 3)])
def test_pygithub_installation_auth_refreshes_tokens_within_20s_of_expiry(
    fake: FakeGitHub, ttl: int, mints: int
) -> None:
    fake.token_ttl = ttl
    auth = Auth.AppAuth(fake.app_id, fake.private_key_pem).get_installation_auth(fake.installation_id)
    gh = Github(auth=auth, base_url=fake.base_url, seconds_between_requests=None, seconds_between_writes=None)
    for _ in range(3):
        gh.get_repo(REPO)
    assert fake.token_mints == mints


# --- comments, pagination, reactions, labels -------------------------------------------------------


def test_create_edit_get_comment_as_the_app_bot(fake: FakeGitHub) -> None:
    gh = client(fake, fake.issue_token())
    created = post_comment(gh, "build started")
    assert created["user"]["login"] == f"{fake.slug}[bot]"
    assert created["user"]["type"] == "Bot"
    assert created["performed_via_github_app"]["slug"] == fake.slug
    assert created["html_url"] == f"https://github.com/{REPO}/pull/{PR}#issuecomment-{created['id']}"
    url = f"/repos/{REPO}/issues/comments/{created['id']}"
    _, edited = gh.requester.requestJsonAndCheck("PATCH", url, input={"body": "build done"})
    assert edited["body"] == "build done"
    assert edited["updated_at"] > created["updated_at"]
    _, fetched = gh.requester.requestJsonAndCheck("GET", url)
    assert fetched == edited == fake.comments(REPO, PR)[0]
    with pytest.raises(GithubException) as caught:
        gh.requester.requestJsonAndCheck("GET", f"/repos/{REPO}/issues/comments/999999")
    assert caught.value.status == 404


def test_high_level_pygithub_objects_work(fake: FakeGitHub) -> None:
    pull = client(fake, fake.issue_token()).get_repo(REPO).get_pull(PR)
    assert pull.head.repo.clone_url == "https://github.com/bob/software-layer.git"
    assert pull.base.repo.ssh_url == f"git@github.com:{REPO}.git"
    assert pull.head.sha == HEAD_SHA
    comment = pull.create_issue_comment("hello")
    comment.edit("hello again")
    assert pull.get_issue_comment(comment.id).body == "hello again"


@pytest.mark.parametrize(("per_page", "pages"), [(30, 3), (100, 1), (10, 8)])
def test_paginated_list_iterates_every_page(fake: FakeGitHub, per_page: int, pages: int) -> None:
    for number in range(75):
        fake.add_comment(REPO, PR, f"comment {number}")
    gh = client(fake, fake.issue_token(), per_page=per_page)
    listed = PaginatedList(IssueComment, gh.requester, COMMENTS, None)
    assert [comment.body for comment in listed] == [f"comment {number}" for number in range(75)]
    assert fake.count("GET", f"{COMMENTS}$") == pages


def test_first_page_link_header_points_at_next_and_last(fake: FakeGitHub) -> None:
    for number in range(75):
        fake.add_comment(REPO, PR, f"comment {number}")
    headers, data = client(fake, fake.issue_token()).requester.requestJsonAndCheck("GET", COMMENTS)
    assert len(data) == 30
    assert headers["link"] == (
        f'<{fake.base_url}{COMMENTS}?per_page=30&page=2>; rel="next", '
        f'<{fake.base_url}{COMMENTS}?per_page=30&page=3>; rel="last"'
    )


def test_reaction_is_201_when_new_and_200_when_repeated(fake: FakeGitHub) -> None:
    comment = fake.add_comment(REPO, PR, "bot: build")
    gh = client(fake, fake.issue_token())
    url = f"/repos/{REPO}/issues/comments/{comment['id']}/reactions"
    statuses = []
    for content in ("eyes", "eyes", "rocket"):
        response = requests.post(
            f"{fake.base_url}{url}",
            json={"content": content},
            headers={"Authorization": f"token {fake.issue_token()}"},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert statuses == [201, 200, 201]
    assert [item["content"] for item in fake.reactions(comment["id"])] == ["eyes", "rocket"]
    _, fetched = gh.requester.requestJsonAndCheck("GET", f"/repos/{REPO}/issues/comments/{comment['id']}")
    assert fetched["reactions"]["total_count"] == 2


def test_labels_add_list_remove(fake: FakeGitHub) -> None:
    pull = client(fake, fake.issue_token()).get_repo(REPO).get_pull(PR)
    pull.add_to_labels("bot:build", "bot:deploy")
    assert [label.name for label in pull.get_labels()] == ["bot:build", "bot:deploy"]
    pull.remove_from_labels("bot:build")
    assert fake.labels(REPO, PR) == ["bot:deploy"]
    with pytest.raises(GithubException) as caught:
        pull.remove_from_labels("bot:build")
    assert caught.value.status == 404


def test_concurrent_comments_get_unique_increasing_ids(fake: FakeGitHub) -> None:
    gh = client(fake, fake.issue_token())
    threads = [threading.Thread(target=post_comment, args=(gh, f"c{n}")) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [comment["id"] for comment in fake.comments(REPO, PR)]
    assert len(ids) == 16
    assert ids == sorted(set(ids))


# --- faults, rate limits, plain HTTP behaviour -----------------------------------------------------


@pytest.mark.parametrize(("after_effect", "stored"), [(False, 0), (True, 1)])
def test_injected_502_with_and_without_effect(fake: FakeGitHub, after_effect: bool, stored: int) -> None:
    fake.inject("POST", f"{COMMENTS}$", status=502, after_effect=after_effect)
    gh = client(fake, fake.issue_token())
    with pytest.raises(GithubException) as caught:
        post_comment(gh, "uncertain")
    assert caught.value.status == 502
    assert len(fake.comments(REPO, PR)) == stored
    assert fake.requests[-1] == ("POST", COMMENTS, 502)
    post_comment(gh, "fault used up")
    assert len(fake.comments(REPO, PR)) == stored + 1


def test_pygithub_default_retry_repeats_an_uncertain_post(fake: FakeGitHub) -> None:
    """PyGithub's default GithubRetry retries POST on 5xx: a write GitHub did is done twice."""
    fake.inject_5xx("POST", f"{COMMENTS}$", after_effect=True)
    post_comment(client(fake, fake.issue_token(), retry=Github.default_retry), "once?")
    assert [comment["body"] for comment in fake.comments(REPO, PR)] == ["once?", "once?"]


def test_secondary_rate_limit_is_403_with_retry_after(fake: FakeGitHub) -> None:
    fake.inject_secondary_rate_limit("POST", f"{COMMENTS}$", retry_after=1)
    gh = client(fake, fake.issue_token())
    with pytest.raises(RateLimitExceededException) as caught:
        post_comment(gh, "too fast")
    assert caught.value.status == 403
    assert caught.value.headers is not None and caught.value.headers["retry-after"] == "1"
    assert "secondary rate limit" in caught.value.data["message"]
    post_comment(gh, "later")
    assert len(fake.comments(REPO, PR)) == 1


def test_pygithub_default_retry_waits_out_a_secondary_rate_limit(fake: FakeGitHub) -> None:
    fake.inject_secondary_rate_limit("POST", f"{COMMENTS}$", retry_after=1)
    started = time.monotonic()
    post_comment(client(fake, fake.issue_token(), retry=Github.default_retry), "patient")
    assert time.monotonic() - started >= 1
    assert [status for method, _, status in fake.requests if method == "POST"] == [403, 201]


def test_primary_rate_limit_is_403_with_zero_remaining(fake: FakeGitHub) -> None:
    fake.inject_primary_rate_limit("GET", f"/repos/{REPO}$", reset_in=5)
    with pytest.raises(RateLimitExceededException) as caught:
        client(fake, fake.issue_token()).get_repo(REPO)
    headers = caught.value.headers or {}
    assert headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(headers["x-ratelimit-reset"]) - time.time() <= 5
    assert f"installation ID {fake.installation_id}" in caught.value.data["message"]


@pytest.mark.parametrize(
    "header",
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "x-ratelimit-resource",
        "x-github-request-id",
    ],
)
def test_unknown_route_is_github_404_with_standard_headers(fake: FakeGitHub, header: str) -> None:
    response = requests.get(f"{fake.base_url}/no/such/route", timeout=10)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    assert response.headers[header]


def test_delay_slows_every_request(fake: FakeGitHub) -> None:
    fake.delay = 0.2
    started = time.monotonic()
    client(fake, fake.issue_token()).get_repo(REPO)
    assert time.monotonic() - started >= 0.2


# --- schema validation -----------------------------------------------------------------------------


def test_every_response_of_a_tour_passes_the_schema(fake: FakeGitHub) -> None:
    gh = client(fake, fake.issue_token())
    pull = gh.get_repo(REPO).get_pull(PR)
    comment = pull.create_issue_comment("x")
    comment.edit("y")
    comment.create_reaction("eyes")
    pull.add_to_labels("bot:build")
    list(pull.get_issue_comments())
    integration(fake).get_app()
    assert len(fake.requests) >= 8
    assert fake.schema_errors == []


def test_validator_flags_a_bad_comment(schema: GitHubSchema) -> None:
    bad = {
        "id": "x",
        "node_id": "n",
        "url": "u",
        "html_url": "h",
        "issue_url": "i",
        "created_at": "2024-01-01T00:00:00Z",
    }
    problems = schema.errors("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get", 200, bad)
    assert any(problem.startswith("id:") for problem in problems)
    assert any("'user' is a required property" in problem for problem in problems)
    assert any("updated_at" in problem for problem in problems)


def test_fake_reports_its_own_schema_drift(schema: GitHubSchema) -> None:
    with FakeGitHub(schema=schema) as broken:
        _seed(broken)
        broken.state.bot_user = {"login": "half-a-user"}
        post_comment(client(broken, broken.issue_token()), "x")
        errors = broken.schema_errors
    assert errors
    assert all(error.startswith(f"POST {COMMENTS} -> 201: user") for error in errors)


def test_nullable_enums_accept_null(schema: GitHubSchema) -> None:
    assert None in schema.spec["components"]["schemas"]["check-run"]["properties"]["conclusion"]["enum"]


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/repos/o/r/issues/comments/5", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
        ("POST", "/repos/o/r/issues/5/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
        (
            "DELETE",
            "/repos/o/r/issues/5/labels/bot:build",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
        ),
        ("POST", "/app/installations/1/access_tokens", "/app/installations/{installation_id}/access_tokens"),
        ("GET", "/app", "/app"),
        ("GET", "/no/such/thing", None),
    ],
)
def test_request_paths_map_to_spec_templates(
    schema: GitHubSchema, method: str, path: str, template: Optional[str]
) -> None:
    assert schema.match(method, path) == template
