"""A caller's keys on the SIP line (``LiveCall``), with plain data: a caller keying for the whole
call cannot grow what the line keeps."""

from __future__ import annotations

from typing import cast

from adapters.sip.caller_leg import CallerCall
from adapters.sip.calls import LiveCall


def test_only_the_keys_the_menu_can_use_are_kept() -> None:
    live = LiveCall(cast(CallerCall, object()))
    for _ in range(10_000):  # a phone keying (or a forged INFO storm) for an hour
        live.key("5", keep=6)
    assert live.digits == ["5"] * 6
    assert live.digit_event.is_set()


def test_keys_after_the_call_is_queued_are_not_kept() -> None:
    live = LiveCall(cast(CallerCall, object()))
    live.key("1", keep=6)
    live.interaction_id = "int-1"  # the menu is over
    live.digit_event.clear()
    live.key("2", keep=6)
    assert live.digits == ["1"] and not live.digit_event.is_set()
