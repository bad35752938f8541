"""Canned replies: which an agent may use, and their variables filled in (pure).

A reply names its teams; one with no team is for everyone. Agents read the replies of their own
team, supervisors those of the teams they supervise and their own, admins all of them.

Variables are ``{name.part}`` (``{customer.name}``, ``{agent.name}``, ``{interaction.id}``,
``{interaction.queue}``). One pass replaces each known variable by its value as plain text: a
value is never read as a template again, and an unknown variable stays as typed so the agent sees
it before sending. The result is text for a text box; the desk never puts it into HTML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from cti.access import supervised_teams
from cti.config import AppConfig, CannedReply
from cti.domain import AgentProfile, Customer, Interaction, Role

VARIABLE = re.compile(r"\{([a-z]+(?:\.[a-z_]+)+)\}")


def expand(body: str, values: Mapping[str, str]) -> str:
    """``body`` with each known ``{variable}`` replaced by its value, in one pass."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def visible_replies(config: AppConfig, agent_id: str, role: Role) -> Sequence[CannedReply]:
    """The replies this person may read, in the configured order."""
    if role is Role.ADMIN:
        return config.canned_replies
    teams = {config.team_of(agent_id)} - {None}
    if role is Role.SUPERVISOR:
        teams |= supervised_teams(config, agent_id)
    return [r for r in config.canned_replies if not r.teams or teams.intersection(r.teams)]


def variables(*, interaction: Interaction, customer: Customer | None,
              agent: AgentProfile | None) -> dict[str, str]:
    """The values a reply in ``interaction`` may use; a missing value stays a visible variable."""
    values = {"interaction.id": interaction.id, "interaction.queue": interaction.queue,
              "interaction.channel": interaction.channel.value}
    if customer is not None and customer.display_name:
        values["customer.name"] = customer.display_name
    if agent is not None:
        values["agent.name"] = agent.name
    return values


def reply_json(reply: CannedReply, values: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {"id": reply.id, "title": reply.title, "body": reply.body}
    if values is not None:
        out["text"] = expand(reply.body, values)
    return out
