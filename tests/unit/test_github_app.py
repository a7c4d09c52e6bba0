"""The PyGithub adapter against the fake GitHub over HTTP: App auth, errors, retries, pagination."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from eessi_bot.adapters.github_app import TOKEN_REFRESH_MARGIN, GitHubApp
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.ports.github import NotFound, RateLimited, Rejected, Transient
from tests.fakes.clock import FakeClock
from tests.fakes.github_server import FakeGitHub

REPO = "org/repo"


@pytest.fixture
def env() -> Iterator[Tuple[FakeGitHub, GitHubApp, FakeClock]]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO, clone_url="file:///srv/git/org/repo.git")
        fake.add_pull(REPO, 3, title="t", user_login="u", base_sha="a" * 40, head_ref="feature", head_sha="b" * 40)
        clock = FakeClock(time.time())
        settings = GitHubSettings(app_id=fake.app_id, app_name="x", installation_id=fake.installation_id,
                                  private_key=Path("/unused"), api_url=fake.base_url,
                                  webhook_secret="s")
        yield fake, GitHubApp(settings, fake.private_key_pem, clock), clock
        assert fake.schema_errors == []


def test_reads_and_writes_with_one_token(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    pull = github.get_pull(REPO, 3)
    assert (pull.base_ref, pull.head_sha, pull.clone_url) == ("main", "b" * 40, "file:///srv/git/org/repo.git")
    ref = github.create_comment(REPO, 3, "hello")
    github.edit_comment(REPO, ref.id, "hello again")
    github.add_reaction(REPO, ref.id, "eyes")
    assert [c["body"] for c in fake.comments(REPO, 3)] == ["hello again"]
    assert github.app_slug() == fake.slug
    assert fake.token_mints == 1


def test_token_is_renewed_well_before_expiry(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, clock = env
    github.get_pull(REPO, 3)
    clock.advance(3600 - TOKEN_REFRESH_MARGIN - 60)
    github.get_pull(REPO, 3)
    assert fake.token_mints == 1
    clock.advance(120)
    github.get_pull(REPO, 3)
    assert fake.token_mints == 2


def test_revoked_token_is_replaced(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    github.get_pull(REPO, 3)
    fake.expire_tokens()
    with pytest.raises(Transient):
        github.get_pull(REPO, 3)
    assert github.get_pull(REPO, 3).number == 3
    assert fake.token_mints == 2


def test_failed_post_is_not_repeated(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    """PyGithub's default retry re-sends POSTs on 5xx; a comment would then appear twice."""
    fake, github, _ = env
    fake.inject_5xx("POST", r"/issues/3/comments$", after_effect=True)
    with pytest.raises(Transient):
        github.create_comment(REPO, 3, "once")
    assert fake.count("POST", r"/issues/3/comments$") == 1
    assert len(fake.comments(REPO, 3)) == 1


def test_failed_get_is_retried(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    fake.inject_5xx("GET", r"/pulls/3$", status=503)
    assert github.get_pull(REPO, 3).number == 3
    assert fake.count("GET", r"/pulls/3$") == 2


def test_secondary_rate_limit(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, clock = env
    fake.inject_secondary_rate_limit("POST", r"/comments$", retry_after=30)
    with pytest.raises(RateLimited) as excinfo:
        github.create_comment(REPO, 3, "x")
    assert excinfo.value.retry_at == pytest.approx(clock.now() + 30, abs=1)
    assert fake.count("POST", r"/comments$") == 1


def test_primary_rate_limit(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, clock = env
    fake.inject_primary_rate_limit("GET", r"/pulls/3$", reset_in=120)
    with pytest.raises(RateLimited) as excinfo:
        github.get_pull(REPO, 3)
    assert excinfo.value.retry_at == pytest.approx(clock.now() + 121, abs=2)


def test_not_found_and_rejected(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    with pytest.raises(NotFound):
        github.get_pull(REPO, 404)
    with pytest.raises(NotFound):
        github.edit_comment(REPO, 999999, "x")
    fake.inject("POST", r"/comments$", status=422, body={"message": "Validation Failed"})
    with pytest.raises(Rejected) as excinfo:
        github.create_comment(REPO, 3, "x")
    assert excinfo.value.status == 422


def test_comments_are_paginated(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    for number in range(150):
        fake.add_comment(REPO, 3, f"c{number}")
    bodies = [c.body for c in github.iter_comments(REPO, 3)]
    assert bodies == [f"c{n}" for n in range(150)]
    ref = github.create_comment(REPO, 3, "mine")
    (mine,) = [c for c in github.iter_comments(REPO, 3) if c.id == ref.id]
    assert mine.via_app_id == fake.app_id and mine.author == fake.bot_login


def test_labels(env: Tuple[FakeGitHub, GitHubApp, FakeClock]) -> None:
    fake, github, _ = env
    github.add_label(REPO, 3, "bot:deploy")
    github.add_label(REPO, 3, "arch/x86_64")
    github.remove_label(REPO, 3, "bot:deploy")
    github.remove_label(REPO, 3, "not-there")
    assert fake.labels(REPO, 3) == ["arch/x86_64"]
