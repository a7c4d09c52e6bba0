"""Fixtures shared by all test folders."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Union

import pytest

from eessi_bot.adapters.sqlite.store import SqliteStore
from tests.fakes.memory_store import MemoryStore
from tests.fakes.pipeline import Pipeline

AnyStore = Union[SqliteStore, MemoryStore]


@pytest.fixture
def bots() -> Iterator[List[Pipeline]]:
    """Pipelines a test makes; closed at the end (their local jobs cancelled and waited for)."""
    made: List[Pipeline] = []
    yield made
    for bot in made:
        bot.close()


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyStore]:
    """Each store the bot has: a test using this fixture is the contract both must keep."""
    if request.param == "memory":
        yield MemoryStore()
        return
    made = SqliteStore.in_dir(tmp_path / "state")
    yield made
    made.close()
