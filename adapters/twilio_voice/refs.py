"""The channel references a Twilio voice interaction carries, and the constants the call's
steps share (which states still wait, what a supervisor's modes ask of Twilio)."""

from __future__ import annotations

from cti.domain import InteractionState

REF_CALL_SID = "twilio_call_sid"
REF_QUEUE = "twilio_queue"
REF_NUMBER = "twilio_number"
REF_CALLER = "twilio_caller"
REF_AGENT_LEG = "twilio_agent_leg"
REF_AGENT_CALL_SID = "twilio_agent_call_sid"
REF_MOVED = "twilio_moved"  # "1": our own transfer already put the caller back in the queue
REF_AGENT_OFFER = "twilio_agent_offer"  # the offer (its time) the agent call in REF_AGENT_CALL_SID is for
REF_CONFERENCE = "twilio_conference"  # the call's conference's name (the interaction's id)
REF_CONFERENCE_SID = "twilio_conference_sid"  # its ConferenceSid, once Twilio reported it
REF_HELD = "twilio_held"  # "1": the caller is on hold in the conference
REF_OUTBOUND = "twilio_outbound"  # "1": click-to-dial, the agent's phone first, then the customer
REF_CONSULT_AGENT = "twilio_consult_agent"  # the agent being consulted ("" when none)
REF_CONSULT_CALL_SID = "twilio_consult_call_sid"
REF_CONSULT_LEG = "twilio_consult_leg"
REF_CONSULT_ANSWERED = "twilio_consult_answered"  # "1": the consulted agent picked up
REF_RECORDING_SID = "twilio_recording_sid"  # the desk's recording of the caller's call ("" when none)
RECORDING_STATUS = {"pause": "paused", "resume": "in-progress", "stop": "stopped"}
CONSULT_CLEARED = {REF_CONSULT_AGENT: "", REF_CONSULT_CALL_SID: "", REF_CONSULT_LEG: "",
                   REF_CONSULT_ANSWERED: ""}
MONITOR_MODES = {"listen": {"muted": True}, "whisper": {"coaching": True}, "barge": {}}
WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})
