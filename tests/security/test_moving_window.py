"""The chat's rate caps: a moving window per key, whose state stays bounded by who is active."""

from __future__ import annotations

from adapters.webchat.guard import MovingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_limit_per_window_and_no_more() -> None:
    clock = Clock()
    window = MovingWindow(3, 60.0, clock=clock)
    assert [window.hit("v1") for _ in range(4)] == [True, True, True, False]
    assert window.hit("v2"), "another visitor has a window of its own"


def test_the_window_moves_rather_than_resetting_on_the_minute() -> None:
    clock = Clock()
    window = MovingWindow(2, 60.0, clock=clock)
    assert window.hit("v")
    clock.now += 30
    assert window.hit("v")
    clock.now += 29  # 59 s after the first hit: both still count
    assert not window.hit("v")
    clock.now += 1  # the first hit has left the window, the second has not
    assert window.hit("v")
    assert not window.hit("v")


def test_a_refused_hit_is_not_counted() -> None:
    clock = Clock()
    window = MovingWindow(1, 60.0, clock=clock)
    assert window.hit("v")
    for _ in range(100):
        clock.now += 0.5
        assert not window.hit("v")
    clock.now = 1000.0 + 60
    assert window.hit("v"), "refusals must not push the visitor's window on"


def test_visitors_gone_for_a_window_are_forgotten() -> None:
    clock = Clock()
    window = MovingWindow(5, 60.0, clock=clock)
    for n in range(10_000):
        window.hit(f"visitor-{n}")
    assert len(window) == 10_000
    clock.now += 61
    window.hit("someone-new")
    assert len(window) == 1
