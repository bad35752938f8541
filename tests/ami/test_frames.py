"""AMI frames to messages, on the frames of the real recordings (``tests/fixtures/ami``)."""

from __future__ import annotations

import random

import pytest

from cti.ami.frames import AmiMessage, FrameError, banner_of, parse_frame, split_stream
from tests.ami.recordings import Recording, load, scenario_names

BANNER = "Asterisk Call Manager/11.0.0\r\n"


def in_frames(name: str, event: str | None = None) -> list[str]:
    frames = [f.frame for f in load(name).incoming()]
    if event is None:
        return frames
    return [f for f in frames if f.startswith(f"Event: {event}\r\n")]


def one(frame: str) -> AmiMessage:
    messages = parse_frame(frame)
    assert len(messages) == 1
    return messages[0]


def without_blank_line(frame: str) -> str:
    assert frame.endswith("\r\n\r\n")
    return frame[:-2]


@pytest.mark.parametrize("name", scenario_names())
def test_every_recorded_frame_is_one_clean_message(name: str) -> None:
    for frame in in_frames(name):
        messages = parse_frame(frame)
        if frame in ("", BANNER):
            assert messages == []
            continue
        assert len(messages) == 1, frame
        assert messages[0].malformed == ()
        assert messages[0].event is not None or messages[0].response is not None


def test_headers_keep_wire_order_and_empty_values() -> None:
    msg = one(in_frames("inbound_ivr_hold_abandon", "Newchannel")[0])
    assert msg.headers[:3] == (("Event", "Newchannel"), ("Privilege", "call,all"),
                               ("Timestamp", "1795460304.451385"))
    assert msg.event == "Newchannel" and msg.response is None and msg.action_id is None
    assert msg.get("AccountCode") == ""  # "AccountCode: " on the wire
    assert msg.get("ConnectedLineNum") == "<unknown>"
    assert msg.get("Missing") is None and msg.get("Missing", "x") == "x"
    assert msg.as_dict()["Uniqueid"] == "refpbx-1795460304.0"
    assert "Linkedid" in msg and "linkedid" not in msg  # keys are case-sensitive


def test_a_value_keeps_everything_after_the_first_separator() -> None:
    frame = next(f for f in in_frames("inbound_ivr_hold_abandon", "Newexten") if "Application: Read" in f)
    msg = one(frame)
    assert msg.get("Application") == "Read"
    assert msg.get("AppData", "").startswith("ACCOUNT,")


def test_repeated_keys_are_all_kept_in_order() -> None:
    # No recorded frame repeats a key; an Originate with two variables does (README).
    originate = next(f.frame for f in load("inbound_hold_originate_bridge").frames
                     if f.dir == "out" and f.frame.startswith("Action: Originate"))
    doubled = originate.replace("\r\nVariable: ", "\r\nVariable: CTI_EXTRA=1\r\nVariable: ", 1)
    msg = one(doubled)
    assert msg.get_all("Variable") == ["CTI_EXTRA=1", "CTI_CALLER=PJSIP/sipp-00000001"]
    assert msg.get("Variable") == "CTI_EXTRA=1"
    assert msg.as_dict()["Variable"] == "CTI_EXTRA=1"
    assert msg.get_all("Nope") == []


def test_originate_response_keeps_its_own_response_header() -> None:
    frame = in_frames("originate_agent_no_answer_then_other", "OriginateResponse")[0]
    msg = one(frame)
    assert msg.event == "OriginateResponse"
    assert msg.response == "Failure" and msg.get("Reason") == "3" and msg.get("Uniqueid") == "<unknown>"
    assert msg.action_id == "cti-2"


def test_two_events_run_together_are_split_at_the_second_event_line() -> None:
    first, second = in_frames("inbound_ivr_hold_abandon")[5:7]
    messages = parse_frame(without_blank_line(first) + second)
    assert messages == [one(first), one(second)]


def test_an_event_and_a_response_run_together_are_split_both_ways() -> None:
    frames = in_frames("inbound_hold_originate_bridge")
    response = next(f for f in frames if f.startswith("Response: Success\r\nActionID: cti-2"))
    event = in_frames("inbound_hold_originate_bridge", "Newchannel")[1]
    assert parse_frame(without_blank_line(event) + response) == [one(event), one(response)]
    assert parse_frame(without_blank_line(response) + event) == [one(response), one(event)]
    originate = in_frames("inbound_hold_originate_bridge", "OriginateResponse")[0]
    assert parse_frame(without_blank_line(originate) + response) == [one(originate), one(response)]


def test_three_frames_without_any_blank_line() -> None:
    frames = [f for f in in_frames("hold_resume") if f.startswith("Event: ")][10:13]
    glued = "".join(without_blank_line(f) for f in frames)
    assert parse_frame(glued) == [one(f) for f in frames]


@pytest.mark.parametrize("line_end", ["\n", "\r", "\n\r"])
def test_stray_line_ends(line_end: str) -> None:
    frame = in_frames("hold_resume", "Hold")[0]
    assert parse_frame(frame.replace("\r\n", line_end)) == [one(frame)]


def test_mixed_line_ends_inside_one_frame() -> None:
    frame = in_frames("hold_resume", "Unhold")[0]
    mixed = frame.replace("\r\n", "\n", 3).replace("\r\n", "\r", 2)
    assert parse_frame(mixed) == [one(frame)]


def test_a_header_that_lost_its_trailing_space_is_still_a_header() -> None:
    frame = in_frames("hold_resume", "Hold")[0]
    assert "AccountCode: \r\n" in frame
    assert one(frame.replace("AccountCode: \r\n", "AccountCode:\r\n")).get("AccountCode") == ""


def test_lines_without_a_separator_are_kept_out_and_reported() -> None:
    frame = in_frames("hold_resume", "Hold")[0]
    broken = frame.replace("Language: en\r\n", "Language: en\r\nthis is not a header\r\n")
    msg = one(broken)
    assert msg.malformed == ("this is not a header",)
    assert msg.headers == one(frame).headers


def test_malformed_lines_before_the_first_header_go_with_the_first_message() -> None:
    frame = in_frames("hold_resume", "Hold")[0]
    msg = one("garbage\r\n" + frame)
    assert msg.malformed == ("garbage",) and msg.event == "Hold"


def test_the_banner() -> None:
    assert in_frames("login_and_fullybooted")[0] == BANNER
    assert parse_frame(BANNER) == []
    assert banner_of(BANNER) == "Asterisk Call Manager/11.0.0"
    assert banner_of(in_frames("login_and_fullybooted")[1]) is None
    # Read together with the Login response that follows it, the banner is skipped, not malformed.
    response = in_frames("login_and_fullybooted")[1]
    msg = one(BANNER + response)
    assert msg.response == "Success" and msg.malformed == ()


def test_eof_and_blank_frames_give_no_message() -> None:
    assert in_frames("login_and_fullybooted")[-1] == ""
    assert parse_frame("") == [] and parse_frame("\r\n\r\n") == [] and parse_frame("  \r\n") == []


def test_a_frame_without_any_header_is_a_frame_error() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame("no header here\r\nnor here\r\n\r\n")
    assert caught.value.frame.startswith("no header here")


def test_not_text_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        parse_frame(b"Event: Hold\r\n\r\n")  # type: ignore[arg-type]


def _garbage(rng: random.Random, size: int) -> str:
    return bytes(rng.randrange(256) for _ in range(size)).decode("utf-8", errors="replace")


def test_garbage_never_raises_anything_but_frame_error() -> None:
    rng = random.Random(20261123)
    frames = [f for f in in_frames("attended_transfer_complete") if f]
    for _ in range(3000):
        frame = rng.choice(frames)
        choice = rng.randrange(4)
        if choice == 0:
            text = _garbage(rng, rng.randrange(1, 300))
        elif choice == 1:  # a real frame with a stretch of garbage in it
            at = rng.randrange(len(frame))
            text = frame[:at] + _garbage(rng, rng.randrange(1, 40)) + frame[at:]
        elif choice == 2:  # a real frame cut anywhere
            text = frame[: rng.randrange(len(frame))]
        else:  # a real frame's bytes flipped, decoded with replacement
            raw = bytearray(frame.encode())
            for _ in range(rng.randrange(1, 8)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            text = raw.decode("utf-8", errors="replace")
        try:
            messages = parse_frame(text)
        except FrameError:
            continue
        assert all(isinstance(m, AmiMessage) for m in messages)


def _session_text(recording: Recording, session: int) -> tuple[list[str], str]:
    frames = [f.frame for f in recording.incoming() if f.session == session and f.frame]
    return frames, "".join(frames)


@pytest.mark.parametrize("name", scenario_names())
def test_split_stream_gives_back_the_recorded_frames(name: str) -> None:
    recording = load(name)
    for session in sorted({f.session for f in recording.frames}):
        frames, text = _session_text(recording, session)
        assert split_stream(text) == (frames, "")


def test_split_stream_keeps_an_incomplete_frame_as_the_rest() -> None:
    frames, text = _session_text(load("hold_resume"), 0)
    cut = len(frames[0]) + len(frames[1]) + 10
    got, rest = split_stream(text[:cut])
    assert got == frames[:2] and rest == frames[2][:10]


def test_split_stream_reassembles_any_chunking() -> None:
    frames, text = _session_text(load("chanspy_barge"), 0)
    rng = random.Random(5)
    got: list[str] = []
    buffer = ""
    i = 0
    while i < len(text):
        step = rng.randrange(1, 700)
        buffer += text[i:i + step]
        i += step
        complete, buffer = split_stream(buffer)
        got.extend(complete)
    assert got == frames and buffer == ""


def test_split_stream_waits_for_the_whole_banner_line() -> None:
    assert split_stream("Asterisk Call Man") == ([], "Asterisk Call Man")
    assert split_stream(BANNER) == ([BANNER], "")
