"""The one polling helper of the tests: wait until something a test cannot be told about is true."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.02) -> T:
    """Poll until `predicate()` is truthy and return that value; AssertionError after `timeout` seconds.

    The predicate is asked once more at the deadline, so a slow machine that gets there just in
    time still passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)
