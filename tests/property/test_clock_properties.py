"""Properties of pairflow.clock: every clock is a `Clock`; event time never runs back; simulated time scales."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairflow.clock import WALL_CLOCK, Clock, EventClock, ManualClock, SimulatedClock, WallClock

EPOCH_MS = st.integers(min_value=0, max_value=2**53)


def test_every_clock_satisfies_the_protocol():
    clocks = [WallClock(), WALL_CLOCK, SimulatedClock(0), ManualClock(), EventClock()]
    assert all(isinstance(clock, Clock) for clock in clocks)


def test_wall_clock_reads_the_machine_time_in_ms():
    before = time.time_ns() // 1_000_000
    now = WALL_CLOCK.now_ms()
    after = time.time_ns() // 1_000_000
    assert before <= now <= after
    assert WALL_CLOCK.wall_seconds_until(now - 1) == 0.0
    assert 59.0 < WALL_CLOCK.wall_seconds_until(now + 60_000) <= 60.0


@given(start=EPOCH_MS, observed=st.lists(EPOCH_MS, max_size=50))
def test_event_clock_is_the_running_maximum_of_what_it_observed(start, observed):
    clock = EventClock(start)
    readings = []
    for event_ms in observed:
        clock.observe(event_ms)
        readings.append(clock.now_ms())
    assert readings == sorted(readings)
    assert readings == [max([start, *observed[: i + 1]]) for i in range(len(observed))]


@given(observed=st.lists(EPOCH_MS, min_size=1, max_size=50), probe=EPOCH_MS)
def test_event_clock_never_waits_on_the_wall(observed, probe):
    clock = EventClock()
    for event_ms in observed:
        clock.observe(event_ms)
    expected = 0.0 if probe <= max(observed) else float("inf")
    assert clock.wall_seconds_until(probe) == expected


def test_event_clock_keeps_the_maximum_under_concurrent_observers():
    clock = EventClock()
    values = list(range(20_000))

    def observe(offset: int) -> None:
        for value in values[offset::4]:
            clock.observe(value)

    threads = [threading.Thread(target=observe, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now_ms() == values[-1]


@given(start=EPOCH_MS, steps=st.lists(st.integers(min_value=0, max_value=10**9), max_size=30))
def test_manual_clock_moves_by_exactly_what_it_is_told(start, steps):
    clock = ManualClock(start)
    for step in steps:
        clock.advance(step)
    assert clock.now_ms() == start + sum(steps)
    clock.observe(clock.now_ms() + 1_000_000)
    assert clock.now_ms() == start + sum(steps)
    assert clock.wall_seconds_until(clock.now_ms() + 5_000) == 0.0


@given(start=EPOCH_MS, back=st.integers(min_value=1, max_value=10**9))
def test_manual_clock_refuses_to_go_back(start, back):
    clock = ManualClock(start)
    with pytest.raises(ValueError, match="cannot move backwards"):
        clock.set(start - back)
    assert clock.now_ms() == start


class _Wall:
    def __init__(self) -> None:
        self.seconds = 1_000.0

    def __call__(self) -> float:
        return self.seconds


@given(
    start=EPOCH_MS,
    speed=st.floats(min_value=0.01, max_value=1_000.0),
    elapsed=st.lists(st.floats(min_value=0.0, max_value=3_600.0), max_size=20),
)
def test_simulated_clock_runs_speed_times_the_wall_and_never_back(start, speed, elapsed):
    wall = _Wall()
    clock = SimulatedClock(start, speed, monotonic=wall)
    readings = [clock.now_ms()]
    for seconds in elapsed:
        wall.seconds += seconds
        readings.append(clock.now_ms())
    assert readings == sorted(readings)
    assert readings[-1] == start + int((wall.seconds - 1_000.0) * 1000.0 * speed)
    assert clock.wall_seconds_until(readings[-1] - 1) == 0.0
    assert clock.wall_seconds_until(readings[-1] + 10_000) == pytest.approx(10.0 / speed, rel=1e-6, abs=1e-3 / speed)
    clock.observe(readings[-1] + 10**9)
    assert clock.now_ms() == readings[-1]
