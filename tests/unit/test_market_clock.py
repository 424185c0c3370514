"""Simulated clocks and the driver loop that advances the engine at a fixed cadence."""

from __future__ import annotations

import pytest

from tests.helpers import eventually
from pairflow.clock import ManualClock, SimulatedClock
from venue.driver_loop import DriverLoop
from venue.engine import Engine
from venue.universe import default_universe

T0 = 1_790_000_000_000


class FakeWall:
    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


class RecordingDriver:
    def __init__(self, fail_at: set[int] = frozenset()) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail_at = fail_at

    def attach(self, engine) -> None:
        pass

    def step(self, engine, now_ms: int) -> None:
        self.calls.append((now_ms, engine.now_ms))
        if now_ms in self.fail_at:
            raise RuntimeError("boom")


@pytest.fixture
def engine() -> Engine:
    return Engine(default_universe().subset(["BTC", "ETH"]).specs, now_ms=T0)


@pytest.mark.parametrize("speed", [1.0, 2.5, 60.0])
def test_simulated_clock_runs_speed_times_wall_time(speed):
    wall = FakeWall()
    clock = SimulatedClock(T0, speed, monotonic=wall)
    assert clock.now_ms() == T0
    wall.seconds += 2.0
    assert clock.now_ms() == T0 + int(2000 * speed)
    assert clock.wall_seconds_until(T0 + int(2000 * speed) + 1000) == pytest.approx(1.0 / speed)
    assert clock.wall_seconds_until(T0) == 0.0


def test_simulated_clock_refuses_non_positive_speed():
    with pytest.raises(ValueError, match="speed must be positive"):
        SimulatedClock(T0, 0.0)


def test_manual_clock_only_moves_forward():
    clock = ManualClock(T0)
    assert clock.advance(250) == T0 + 250
    clock.set(T0 + 1000)
    assert clock.now_ms() == T0 + 1000
    with pytest.raises(ValueError, match="cannot move backwards"):
        clock.set(T0)


def test_loop_steps_engine_then_driver_at_fixed_cadence(engine):
    clock, driver = ManualClock(T0), RecordingDriver()
    loop = DriverLoop(engine, clock, driver, step_ms=250)
    assert loop.run_due() == 1
    clock.advance(1000)
    assert loop.run_due() == 4
    assert driver.calls == [(T0 + k * 250, T0 + k * 250) for k in range(5)]
    assert engine.now_ms == T0 + 1000


def test_loop_jumps_ahead_when_far_behind(engine):
    clock, driver = ManualClock(T0), RecordingDriver()
    loop = DriverLoop(engine, clock, driver, step_ms=250, max_lag_steps=10)
    clock.advance(3_600_000)
    assert loop.run_due() == 1
    assert driver.calls == [(T0 + 3_600_000, T0 + 3_600_000)]


def test_failing_driver_step_is_counted_and_the_loop_goes_on(engine):
    clock = ManualClock(T0)
    driver = RecordingDriver(fail_at={T0 + 250})
    loop = DriverLoop(engine, clock, driver, step_ms=250)
    clock.advance(750)
    assert loop.run_due() == 4
    assert loop.errors == 1
    assert [call[0] for call in driver.calls] == [T0 + k * 250 for k in range(4)]


def test_thread_follows_a_fast_simulated_clock(engine):
    clock = SimulatedClock(T0, speed=100.0)
    loop = DriverLoop(engine, clock, None, step_ms=250)
    loop.start()
    try:
        eventually(lambda: engine.now_ms >= T0 + 10_000, timeout=5.0)
    finally:
        loop.stop()
    assert loop.steps >= 40
