"""Fixtures for end-to-end tests: a fake GitHub with one repository and PR, and the bot as a process."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.harness import PR, REPO, BotProcess
from tests.fakes.github_server import FakeGitHub


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        fake.add_pull(REPO, PR, title="Add a package", user_login="contributor", base_sha="a" * 40,
                      head_ref="feature", head_sha="b" * 40)
        yield fake
        assert fake.schema_errors == []


@pytest.fixture
def bot(tmp_path: Path, github: FakeGitHub) -> Iterator[BotProcess]:
    process = BotProcess(tmp_path, github)
    process.start()
    yield process
    process.stop()


from tests.s3 import private_s3 as private_s3  # noqa: E402
from tests.s3 import s3_bucket as s3_bucket  # noqa: E402
from tests.s3 import s3_env as s3_env  # noqa: E402
from tests.s3 import s3_server as s3_server  # noqa: E402
