"""The OpenAPI part for supervision (``desktop_api.rest_supervision``) and the wallboard
(``desktop_api.wallboard``); ``desktop_api.openapi`` merges it into the document."""

from __future__ import annotations

from desktop_api.openapi import (
    CHANNELS,
    EPOCH,
    INT,
    NUM,
    STR,
    Schema,
    _asset,
    _nullable,
    _obj,
    _op,
    _page,
    _path_param,
    _ref,
)

SCOPE = ("Supervisors: their teams' queues and agents (another team's work, agent or queue is 403 "
         "not-your-team / not-your-queue); admins: all; agents are refused (403 wrong-role). Audited.")


def supervision_schemas() -> dict[str, Schema]:
    waiting = {
        "interaction_id": STR, "customer_id": STR, "channel": {"type": "string", "enum": CHANNELS},
        "queue": STR, "state": {"type": "string", "enum": ["queued", "offered"]},
        "waited": {"type": "number", "description": "seconds since it first joined a queue"},
        "priority": NUM, "offered_to": _nullable(STR),
        "also_queues": {"type": "array", "items": STR,
                        "description": "other queues it overflowed into, whose agents are offered it too"},
    }
    channel = {
        "channel": STR, "waiting": INT, "longest_wait": _nullable(NUM), "target": _nullable(NUM),
        "service_level": _nullable(NUM), "average_speed_of_answer": _nullable(NUM),
        "abandon_rate": _nullable(NUM), "answered": INT, "abandoned": INT, "offered": INT,
    }
    return {
        "WaitingCustomer": _obj(waiting, required=list(waiting)),
        "WaitingList": _obj({"at": EPOCH, "waiting": {"type": "array", "items": _ref("WaitingCustomer")}},
                            required=["at", "waiting"]),
        "PickRequest": _obj({"agent_id": {"type": "string", "maxLength": 100}}, required=["agent_id"]),
        "Barge": _obj({"interaction_id": STR, "barged": {"type": "boolean"},
                       "announcement": _nullable(_ref("Message"))}, required=["interaction_id", "barged"]),
        "WallboardTokenRequest": _obj({"ttl_days": {"type": "integer", "minimum": 1, "maximum": 365,
                                                    "description": "default 30"}}),
        "WallboardToken": _obj({"id": STR, "token": STR, "expires_at": EPOCH,
                                "url": {"type": "string", "description": "/wallboard#token=…"}},
                               required=["id", "token", "expires_at", "url"]),
        "WallboardChannel": _obj(channel, required=list(channel),
                                 description="formulas in docs/reports.md (the wallboard)"),
        "WallboardQueue": _obj({"queue": STR,
                                "channels": {"type": "array", "items": _ref("WallboardChannel")},
                                "agents": {"type": "object", "additionalProperties": INT,
                                           "description": "agents with the queue's skills, by state"}},
                               required=["queue", "channels", "agents"]),
        "Wallboard": _obj({"at": EPOCH, "window": NUM,
                           "queues": {"type": "array", "items": _ref("WallboardQueue")}},
                          required=["at", "window", "queues"]),
    }


def supervision_paths() -> dict[str, Schema]:
    iid = _path_param("interaction_id", "the interaction")
    return {
        "/api/waiting": {"get": _op(
            "Every customer waiting for an agent (queued or offered), longest wait first", tag="routing",
            ok=(200, _ref("WaitingList"), "the waiting customers"), errors=(401, 403), op_id="listWaiting",
            description=SCOPE)},
        "/api/interactions/{interaction_id}/pick": {"post": _op(
            "Offer a waiting customer to the agent chosen (only they are offered it)", tag="interactions",
            params=[iid], body=_ref("PickRequest"), errors=(400, 401, 403, 404, 409),
            ok=(200, _ref("Interaction"), "the interaction, queued for that agent"), op_id="pickInteraction",
            description=f"{SCOPE} An offer already out is withdrawn; the wait is kept. 409 "
                        "agent-unavailable when the agent cannot take it now, invalid-state when it "
                        "is not waiting.")},
        "/api/interactions/{interaction_id}/reassign": {"post": _op(
            "Move offered or live work to another agent or queue", tag="interactions", params=[iid],
            body=_ref("TransferRequest"), errors=(400, 401, 403, 404, 409),
            ok=(200, _ref("Interaction"), "the interaction, queued where it goes"),
            op_id="reassignInteraction",
            description=f"{SCOPE} Live work moves as the agent's transfer would (a call too).")},
        "/api/interactions/{interaction_id}/whisper": {"post": _op(
            "Whisper to the agent working it: an internal note only the agent (and supervisors) see",
            tag="interactions", params=[iid], body=_ref("BodyRequest"), errors=(400, 401, 403, 404, 409, 413),
            ok=(201, _ref("Note"), "the stored note"), op_id="whisperInteraction",
            description=f"{SCOPE} Published as supervision.whisper (docs/websocket.md); never sent "
                        "to the customer.")},
        "/api/interactions/{interaction_id}/barge": {"post": _op(
            "Join a live chat as a second agent; the customer is told \"<name> joined the chat\"",
            tag="interactions", params=[iid], errors=(400, 401, 403, 404, 409),
            ok=(200, _ref("Barge"), "joined (announcement null when already joined)"),
            op_id="bargeInteraction", description=f"{SCOPE} Chats only; calls use the call monitor."),
            "delete": _op(
            "Leave a chat you joined; the customer is told \"<name> left the chat\"",
            tag="interactions", params=[iid], errors=(400, 401, 403, 404, 409),
            ok=(200, _ref("Barge"), "left (barged false, the announcement)"),
            op_id="leaveBargedChat", description=f"{SCOPE} 409 not-barged if you had not joined it. "
                                                 "Same as POST .../barge/leave.")},
        "/api/interactions/{interaction_id}/barge/leave": {"post": _op(
            "Leave a chat you joined (as DELETE .../barge)", tag="interactions", params=[iid],
            errors=(400, 401, 403, 404, 409),
            ok=(200, _ref("Barge"), "left (barged false, the announcement)"),
            op_id="leaveBargedChatPost", description=f"{SCOPE} 409 not-barged if you had not joined it.")},
        "/api/interactions/{interaction_id}/barge/messages": {"post": _op(
            "Write to the customer of a chat you joined", tag="interactions", params=[iid],
            body=_ref("BodyRequest"), errors=(400, 401, 403, 404, 409, 413),
            ok=(201, _ref("Message"), "the stored message"), op_id="bargeMessage",
            description=f"{SCOPE} 409 not-barged before a barge.")},
        "/api/wallboard-tokens": {"post": _op(
            "Mint a wallboard token: it opens GET /api/wallboard and nothing else", tag="reports",
            body=_ref("WallboardTokenRequest"), errors=(400, 401, 403),
            ok=(201, _ref("WallboardToken"), "the token and the page's address"), op_id="mintWallboardToken",
            description="Supervisors and admins. It shows what its minter may see, read at each use. "
                        "docs/security.md.")},
        "/api/wallboard-tokens/{token_id}": {"delete": _op(
            "Revoke a wallboard token", tag="reports", params=[_path_param("token_id", "its id")],
            errors=(400, 401, 403), ok=(200, _obj({"id": STR, "revoked": {"type": "boolean"}}), "revoked"),
            op_id="revokeWallboardToken", description="Supervisors and admins; audited.")},
        "/api/wallboard": {"get": _op(
            "The wallboard's figures per queue and channel", tag="reports",
            ok=(200, _ref("Wallboard"), "the figures now"), errors=(401, 403), op_id="getWallboard",
            description="With a wallboard token (Bearer) or a supervisor's or admin's own token. "
                        "Formulas in docs/reports.md.")},
        "/wallboard": _page("The wallboard page (read-only; the token in the address's fragment)",
                            "wallboardPage"),
        "/assets/wallboard.css": _asset("The wallboard's style", "wallboardStyle", "text/css"),
    }
