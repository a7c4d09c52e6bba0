"""Fixtures shared by all test folders."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from tests.fakes.pipeline import Pipeline


@pytest.fixture
def bots() -> Iterator[List[Pipeline]]:
    """Pipelines a test makes; closed at the end (their local jobs cancelled and waited for)."""
    made: List[Pipeline] = []
    yield made
    for bot in made:
        bot.close()
