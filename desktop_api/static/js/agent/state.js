// The agent's own state in the header: the pill, and the form that sets available, away with a
// reason, busy or offline.
import {$} from '../shared/dom.js';
import {api, mine, notice, on, session, showError} from './desk.js';

// The agent picked a state (or reason) in the form and has not applied it yet: updates from the
// server change the pill but leave the form alone, so Apply sets what the agent sees chosen (a
// hello arriving between the choice and the click used to put the menu back to "offline").
let chosen = false;

export function setAgent(agent) {
  if (!agent) return;
  session.agent = agent;
  $('agent-name').textContent = agent.name || agent.id;
  renderAgentState(agent.state, agent.reason);
}

function renderAgentState(state, reason) {
  const node = $('agent-state');
  node.dataset.state = state || 'offline';
  node.textContent = reason ? `${state} · ${reason}` : String(state || 'offline');
  if (chosen) return;
  const select = $('state-select');
  if ([...select.options].some((o) => o.value === state)) select.value = state;
  if (state === 'away' && reason && [...$('state-reason').options].some((o) => o.value === reason)) {
    $('state-reason').value = reason;
  }
  syncReason();
}

function syncReason() {
  $('state-reason').disabled = $('state-select').value !== 'away';
}

async function onApplyState(event) {
  event.preventDefault();
  const state = $('state-select').value;
  const body = {state};
  if (state === 'away') body.reason = $('state-reason').value;
  $('state-apply').disabled = true;
  try {
    const view = await api('PUT', `/api/agents/${encodeURIComponent(session.agentId)}/state`, body);
    chosen = false;
    setAgent(view);
  } catch (exc) {
    if (exc.status !== 401) showError(exc, 'state');
  } finally {
    $('state-apply').disabled = false;
  }
}

$('state-form').addEventListener('submit', onApplyState);
$('state-select').addEventListener('change', () => { chosen = true; syncReason(); });
$('state-reason').addEventListener('change', () => { chosen = true; });

on('desk.login', (agent) => { chosen = false; setAgent(agent); });
on('hello', (msg) => setAgent(msg.agent));
on('agent.state_changed', (msg) => {
  if (!mine(msg)) return;
  if (session.agent) session.agent = {...session.agent, state: msg.state, reason: msg.reason};
  renderAgentState(msg.state, msg.reason);
  if (msg.by) notice(`Your state was set to ${msg.state} by ${msg.by}.`);
});
