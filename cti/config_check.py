"""What an admin should know about a configuration before deploying it (pure: config in, lines out).

Loading already refuses what cannot work (``ConfigError``). This looks for what loads but would
leave customers waiting: a queue's channel that no agent can take (skills or capacity), an agent
no supervisor can see, a team without a supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.config import AppConfig
from cti.domain import Channel, Role
from router.eligibility import skill_gap

# Channels that reach a queue only when their adapter (or the Asterisk link) is configured.
CHANNEL_SECTIONS = {Channel.EMAIL: "email", Channel.SMS: "sms", Channel.X: "x", Channel.SLACK: "slack"}


@dataclass
class Review:
    summary: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def arriving_channels(config: AppConfig) -> set[Channel]:
    """The channels customers can come in on with this configuration."""
    channels = {Channel.CHAT}
    channels |= {c for c, section in CHANNEL_SECTIONS.items() if section in config.channels}
    if config.ami is not None or "twilio_voice" in config.channels or "sip" in config.channels:
        channels.add(Channel.VOICE)
    return channels


def review(config: AppConfig) -> Review:
    out = Review()
    roles = {r: sum(1 for a in config.agents.values() if a.role is r) for r in Role}
    out.summary.append(f"{_n(len(config.agents), 'person', 'people')}: {_n(roles[Role.AGENT], 'agent')}, "
                       f"{_n(roles[Role.SUPERVISOR], 'supervisor')}, {_n(roles[Role.ADMIN], 'admin')}; "
                       f"{_n(len(config.teams), 'team')}; {_n(len(config.queues), 'queue')}")
    arriving = arriving_channels(config)
    out.summary.append("channels: " + ", ".join(sorted(c.value for c in arriving))
                       + (f"; Asterisk at {config.ami.host}:{config.ami.port}" if config.ami else ""))
    for queue in config.queues.values():
        channels = sorted((c for c in arriving if c in queue.service_targets
                           or (c is Channel.CHAT and queue.name == config.chat.queue)), key=lambda c: c.value)
        able: list[str] = []
        for channel in channels:
            required = {**queue.skills, **(config.chat.skills if channel is Channel.CHAT else {})}
            agents = [a.id for a in config.agents.values()
                      if a.capacity.get(channel, 0) > 0 and skill_gap(a.skills, required) is None]
            able.append(f"{channel.value} {len(agents)} ({queue.target_for(channel):.0f} s)")
            if not agents:
                out.warnings.append(f"queue {queue.name!r}: no agent can take {channel.value} "
                                    f"(it needs skills {dict(required)} and capacity for {channel.value})")
        out.summary.append(f"queue {queue.name}: " + (", ".join(able) or "no channel arrives here"))
    for agent in config.agents.values():
        if agent.role is Role.AGENT and (agent.team is None or not config.teams[agent.team].supervisors):
            out.warnings.append(f"agent {agent.id!r}: no supervisor can see or monitor them "
                                f"({'no team' if agent.team is None else f'team {agent.team!r} has none'})")
    for team in config.teams.values():
        if not team.supervisors:
            out.warnings.append(f"team {team.name!r} has no supervisor")
    if config.token_secret is None:
        out.warnings.append("no token_secret: one node keeps a generated one in its data directory; "
                            "several nodes need one shared secret")
    return out


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"
