// The team table: each agent's state, load and current work, set a state, and listen, whisper
// or barge on a call.
import {$, el} from '../shared/dom.js';
import {fmtSeconds as fmt} from '../shared/format.js';
import {S, addEvent, api, on, showError} from './board.js';

const STATES = ['available', 'away', 'busy', 'offline'];
const MONITOR_MODES = ['listen', 'whisper', 'barge'];
const fmtSeconds = (s) => fmt(s) || '—';

function loadText(agent) {
  const parts = [];
  for (const [channel, cap] of Object.entries(agent.capacity || {})) {
    if (!cap) continue;
    parts.push(`${channel} ${(agent.load || {})[channel] || 0}/${cap}`);
  }
  return parts.join(' · ') || '—';
}

function agentRow(agent) {
  // The rows are rebuilt by every refresh: a state chosen but not yet set must survive that.
  const chosen = S.chosen.get(agent.id) || agent.state;
  const select = el('select', {'data-testid': 'state-select', 'aria-label': `state of ${agent.id}`,
                               onchange: () => S.chosen.set(agent.id, select.value)},
    STATES.map((s) => el('option', {value: s, text: s, selected: s === chosen})));
  const apply = el('button', {type: 'button', 'data-testid': 'state-apply', text: 'Set',
    onclick: async () => {
      apply.disabled = true;
      const state = select.value;
      try {
        const reason = state === 'away' ? 'supervisor' : undefined;
        const view = await api('PUT', `/api/agents/${encodeURIComponent(agent.id)}/state`, {state, reason});
        S.chosen.delete(agent.id);
        upsertAgent(view);
      } catch (err) { showError(err, `set ${agent.id}`); } finally { apply.disabled = false; }
    }});
  const onCall = ((agent.load || {}).voice || 0) > 0;
  const monitor = MONITOR_MODES.map((mode) => {
    const button = el('button', {type: 'button', 'data-testid': `monitor-${mode}`, text: mode,
      disabled: !(S.voice && onCall),
      title: S.voice ? (onCall ? `${mode} on your phone` : 'not on a call') : 'no telephony link',
      onclick: async () => {
        button.disabled = true;
        try {
          await api('POST', `/api/agents/${encodeURIComponent(agent.id)}/monitor`, {mode});
          addEvent(`you ${mode} to ${agent.name || agent.id}: your phone rings`);
        } catch (err) { showError(err, `${mode} ${agent.id}`); } finally { button.disabled = false; }
      }});
    return button;
  });
  return el('tr', {'data-testid': 'agent-row', 'data-agent': agent.id},
    el('td', {}, el('strong', {text: agent.name || agent.id}), ' ', el('span', {class: 'muted', text: agent.id})),
    el('td', {}, el('span', {class: 'pill', 'data-testid': 'agent-state', 'data-state': agent.state,
                             text: agent.reason ? `${agent.state} (${agent.reason})` : agent.state})),
    el('td', {class: 'num', 'data-testid': 'agent-load', text: loadText(agent)}),
    el('td', {'data-testid': 'agent-work'}, workOf(agent.id)),
    el('td', {}, el('div', {class: 'controls'}, select, apply)),
    el('td', {}, el('div', {class: 'controls'}, monitor)));
}

// What each agent holds now: channel, state and how long (offered, talking, wrapping up).
function workOf(agentId) {
  const now = Date.now() / 1000;
  const items = (S.work.get(agentId) || []).map((i) => {
    const since = i.state === 'offered' ? i.offered_at : (i.answered_at || i.offered_at || i.arrived_at);
    return el('span', {class: 'work', 'data-testid': 'work-item', 'data-channel': i.channel, 'data-state': i.state},
      `${i.channel} ${i.state.replace('_', ' ')} ${fmtSeconds(now - since)}`);
  });
  if (!items.length) return '—';
  return items.flatMap((node, n) => (n ? [' · ', node] : [node]));
}

export async function refreshWork() {
  try {
    const open = await api('GET', '/api/interactions?state=offered,active,wrap_up&limit=200');
    S.work = new Map();
    for (const i of open || []) {
      if (!i.agent_id) continue;
      if (!S.work.has(i.agent_id)) S.work.set(i.agent_id, []);
      S.work.get(i.agent_id).push(i);
    }
    renderAgents();
  } catch (err) { showError(err, 'work'); }
}

function renderAgents() {
  const rows = [...S.agents.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id))
    .map(agentRow);
  $('agents').replaceChildren(...rows);
}

function upsertAgent(view) {
  if (!view || !view.id) return;
  S.agents.set(view.id, view);
  renderAgents();
}

async function refreshAgent(agentId) {
  if (!S.agents.has(agentId)) return;  // not on my team
  try { upsertAgent(await api('GET', `/api/agents/${encodeURIComponent(agentId)}`)); }
  catch (err) { showError(err, `agent ${agentId}`); }
}

on('hello', (msg) => {
  S.agents = new Map((msg.agents || []).map((a) => [a.id, a]));
  renderAgents();
  refreshWork();
});
on('lagged', () => { for (const id of S.agents.keys()) refreshAgent(id); });
on('agent.state_changed', (msg) => {
  if (S.agents.has(msg.agent_id)) upsertAgent({...S.agents.get(msg.agent_id), state: msg.state, reason: msg.reason});
});
on('board.message', (msg) => {
  if (msg.type.startsWith('interaction.') && msg.agent_id && msg.type !== 'interaction.offered') {
    refreshAgent(msg.agent_id);
  }
});
