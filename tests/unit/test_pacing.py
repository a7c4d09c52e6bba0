"""Pacing of GitHub writes: bursts allowed, sustained rate under both secondary limits."""

from __future__ import annotations

from eessi_bot.core.pacing import SECONDARY_LIMITS, Pacer


def test_burst_then_wait_for_the_window() -> None:
    pacer = Pacer(((60.0, 80), (3600.0, 500)))
    for _ in range(80):
        assert pacer.delay(0.0) == 0
        pacer.record(0.0)
    assert pacer.delay(0.0) == 60.0
    assert pacer.delay(30.0) == 30.0
    assert pacer.delay(60.0) == 0


def test_hourly_limit_dominates_after_a_while() -> None:
    pacer = Pacer(SECONDARY_LIMITS)
    now = 0.0
    sent = 0
    while now < 3600.0:
        wait = pacer.delay(now)
        if wait:
            now += wait
            continue
        pacer.record(now)
        sent += 1
    assert sent <= 500
    assert sent == 500


def test_never_more_than_80_in_any_minute() -> None:
    pacer = Pacer()
    now = 0.0
    times: list = []
    while len(times) < 300:
        wait = pacer.delay(now)
        if wait:
            now += wait
            continue
        pacer.record(now)
        times.append(now)
        now += 0.1
    for index, start in enumerate(times):
        in_window = [t for t in times[index:] if t < start + 60.0]
        assert len(in_window) <= 80
