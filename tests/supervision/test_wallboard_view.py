"""The wallboard's figures per queue and channel, from plain data (no server)."""

from __future__ import annotations

from cti.domain import AgentProfile, AgentState, Channel, QueueConfig, Role
from cti.routing import AgentSnapshot, WaitingItem
from cti.wallboard_view import wallboard

NOW = 1_800_000_000.0
SUPPORT = QueueConfig(name="support", skills={"english": 5}, service_targets={Channel.CHAT: 60.0})
SALES = QueueConfig(name="sales", skills={"sales": 1}, service_targets={Channel.VOICE: 20.0})


def waiting(iid: str, queue: str, channel: Channel, waited: float) -> WaitingItem:
    return WaitingItem(interaction_id=iid, channel=channel, queue=queue, customer_id="c",
                       enqueued_at=NOW - waited, service_target=60.0)


def agent(agent_id: str, **skills: int) -> AgentProfile:
    return AgentProfile(id=agent_id, name=agent_id, role=Role.AGENT, team="support", skills=skills,
                        capacity={})


def snap(agent_id: str, state: AgentState) -> AgentSnapshot:
    return AgentSnapshot(agent_id=agent_id, state=state, skills={}, capacity={}, load={}, idle_since=0.0)


def test_each_queue_and_channel_has_its_waiting_longest_wait_levels_and_agents() -> None:
    levels = {"support": {"chat": {"target": 60.0, "offered": 8, "answered": 6, "abandoned": 2, "level": 0.75,
                                   "average_answer": 12.5}}}
    board = wallboard(
        now=NOW, queues=[SUPPORT, SALES],
        waiting=[waiting("i1", "support", Channel.CHAT, 30), waiting("i2", "support", Channel.CHAT, 95),
                 waiting("i3", "support", Channel.EMAIL, 10), waiting("i4", "other", Channel.CHAT, 500)],
        levels=levels, agents=[agent("alice", english=8), agent("bob", english=4), agent("carol", sales=2)],
        states={"alice": snap("alice", AgentState.AVAILABLE)})
    support, sales = board
    chat, email = support.channels
    assert (chat.channel, chat.waiting, chat.longest_wait) == ("chat", 2, 95.0)
    assert (chat.service_level, chat.average_speed_of_answer, chat.abandon_rate) == (0.75, 12.5, 0.25)
    assert (email.channel, email.waiting, email.longest_wait, email.service_level) == ("email", 1, 10.0, None)
    assert (chat.target, email.target) == (60.0, 4 * 3600.0)  # configured, or the channel's default
    # Bob lacks the level of English support asks for; Carol has not logged in (offline).
    assert support.agents["available"] == 1 and support.agents["offline"] == 0
    assert sum(support.agents.values()) == 1
    [voice] = sales.channels
    assert (voice.channel, voice.waiting, voice.longest_wait, voice.abandon_rate) == ("voice", 0, None, None)
    assert sales.agents["offline"] == 1
