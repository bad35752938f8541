"""Whether an agent is in a supervisor's teams is answered from the agent's own team, as the list
of all the supervisor's agents answered it: a supervisor's socket asks it of every agent event,
and the list cost a pass over every agent each time (each agent's log-in, for each of its
supervisors). A property test over random teams."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.access import in_team_agents, may_supervise, team_agents
from cti.config import parse_config
from cti.domain import Role

PEOPLE = [f"p{n}" for n in range(8)]
TEAMS = ["red", "blue", "green"]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    people = draw(st.lists(st.sampled_from(PEOPLE), unique=True, min_size=1))
    teams = [{"name": t, "supervisors": draw(st.lists(st.sampled_from(people), unique=True, max_size=3))}
             for t in TEAMS]
    agents = [{"id": p, "role": draw(st.sampled_from(["agent", "supervisor", "admin"])),
               "team": draw(st.sampled_from([None, *TEAMS])), "password": p} for p in people]
    return {"demo": True, "teams": teams, "agents": [{k: v for k, v in a.items() if v is not None}
                                                     for a in agents],
            "queues": [{"name": "support"}], "chat": {"queue": "support"}}


@settings(max_examples=200, deadline=None)
@given(configs())
def test_membership_is_what_the_list_of_the_supervisors_agents_says(raw: dict[str, Any]) -> None:
    config = parse_config(raw)
    for actor in [*PEOPLE, "nobody"]:
        listed = team_agents(config, actor)
        for agent in [*PEOPLE, "nobody"]:
            assert in_team_agents(config, actor, agent) == (agent in listed), (actor, agent)
            for role in Role:
                expected = (agent in config.agents if role is Role.ADMIN
                            else role is Role.SUPERVISOR and agent in listed)
                assert may_supervise(config, actor, role, agent) == expected
