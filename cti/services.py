"""The bundle of running services the composition root hands to the edges (HTTP, channels)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cti.access import AccessRecords, TokenRecords
from cti.admin import ConfigAdmin
from cti.agents import AgentService
from cti.campaign_service import CampaignService
from cti.claims import ClaimService
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.consult import ChatConsults
from cti.domain import Channel, Interaction, InteractionState
from cti.eventlog import EventLogRecords
from cti.hub import EventHub
from cti.knowledge import KnowledgeBase
from cti.live_config import LiveConfig
from cti.ports import AttachmentSource, CallControl, ContextStore, DeskCallControl
from cti.presence import DesktopPresence
from cti.reports import ReportRecords
from cti.routing import Explanation, RoutingStore
from cti.service import InteractionService
from cti.survey_service import SurveyService
from cti.typing_signal import TypingSignals

if TYPE_CHECKING:  # the bridge imports the services' parts; only its type is needed here
    from cti.ami.bridge import AmiBridge
    from cti.webhooks.dispatcher import WebhookDispatcher


@dataclass(frozen=True, slots=True)
class Services:
    live: LiveConfig  # the running configuration: ``config`` reads it at each use
    node_id: str
    clock: Clock
    ids: IdSource
    hub: EventHub
    context: ContextStore
    routing: RoutingStore
    interactions: InteractionService
    agents: AgentService
    explain: Callable[[str], Awaitable[Explanation]]
    queue_stats: Callable[..., Awaitable[dict[str, Any]]]  # (window seconds for the service level)
    token_secret: str
    access: AccessRecords  # who held which interaction, shares, scoped search
    tokens: TokenRecords  # revoked tokens and WebSocket tickets, shared by the nodes
    voice: AmiBridge | None = None  # the Asterisk bridge, when the configuration has an ami section
    call_controls: tuple[CallControl, ...] = ()  # every telephony path (Asterisk, Twilio)
    attachment_sources: tuple[AttachmentSource, ...] = ()  # channels that keep customers' files
    claims: ClaimService | None = None  # claimed identities: one-time codes, links by hand
    event_log: EventLogRecords | None = None  # the interactions' logs (figures, history)
    reports: ReportRecords | None = None  # interactions as contacts (first-contact resolution, trends)
    webhooks: WebhookDispatcher | None = None  # outbound webhooks: their deliveries, for the admin
    presence: DesktopPresence | None = None  # desktop sockets per agent, across the nodes
    admin: ConfigAdmin | None = None  # live administration: versions of the configuration
    typing: TypingSignals | None = None  # chat typing indicators (never stored)
    consults: ChatConsults | None = None  # warm transfer of chats: consult the next agent first
    campaigns: CampaignService | None = None  # campaign notices (issue 13)
    surveys: SurveyService | None = None  # CSAT surveys on every channel (issue 13)
    knowledge: KnowledgeBase | None = None  # the knowledge base's articles and search

    @property
    def config(self) -> AppConfig:
        return self.live.current

    def call_control_for(self, interaction: Interaction) -> CallControl | None:
        if interaction.channel is not Channel.VOICE or interaction.state is not InteractionState.ACTIVE:
            return None
        return next((c for c in self.call_controls if c.handles(interaction)), None)

    def desk_control_for(self, interaction: Interaction) -> DeskCallControl | None:
        """The path carrying this call for hold and consult, whatever its state (the path
        answers no-call for one that is over); None: no path knows it."""
        if interaction.channel is not Channel.VOICE:
            return None
        desks = (c for c in self.call_controls if isinstance(c, DeskCallControl))
        return next((c for c in desks if c.handles(interaction)), None)

    def dialer_for(self, agent_id: str) -> DeskCallControl | None:
        """The path click-to-dial takes for this agent: the first (Asterisk before Twilio) with
        their phone."""
        desks = (c for c in self.call_controls if isinstance(c, DeskCallControl))
        return next((c for c in desks if c.dials_for(agent_id)), None)

    async def monitor_control_for(self, agent_id: str) -> DeskCallControl | None:
        """The path carrying the agent's live call, for a supervisor to join it."""
        for interaction in await self.context.list_interactions(agent_id=agent_id, open_only=True):
            control = self.desk_control_for(interaction)
            if control is not None and interaction.state is InteractionState.ACTIVE:
                return control
        return None

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None,
                       if_unavailable: str | None = None) -> Interaction:
        """Transfer on any channel; a live call is moved by its telephony path as well.

        A live call to an agent who cannot take it is always refused: the telephony path rings
        that agent at once, so there is nothing to queue for them (``if_unavailable`` is for
        written channels and chat)."""
        self.interactions.transfer_mode(if_unavailable)  # a bad value is refused on every path
        interaction = await self.context.interaction(interaction_id)
        control = self.call_control_for(interaction)
        if control is not None:
            if (to_agent is not None and to_agent in self.config.agents and to_agent != agent_id
                    and interaction.agent_id == agent_id):
                # Before the call moves: a caller rung through to nobody would be stranded.
                await self.interactions.check_transfer_target(to_agent, interaction)
            return await control.transfer(interaction_id, agent_id, to_queue=to_queue,
                                          to_agent=to_agent, note=note)
        return await self.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                to_agent=to_agent, note=note, if_unavailable=if_unavailable)
