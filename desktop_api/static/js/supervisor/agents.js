// The team table: each agent's state, load and current work, set a state, and listen, whisper
// or barge on a call.
import {$, el} from '../shared/dom.js';
import {fmtSeconds as fmt} from '../shared/format.js';
import {S, addEvent, api, drawSoon, on, showError} from './board.js';

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

// A row is built once per agent and then kept: a redraw writes only the parts whose text or
// state changed (see fillRow), so a burst about the whole team restyles a few cells, not every
// row's controls. The buttons read the agent as it is when they are pressed.
function agentRow(agentId) {
  const current = () => S.agents.get(agentId) || {id: agentId};
  const select = el('select', {'data-testid': 'state-select', 'aria-label': `state of ${agentId}`,
                               onchange: () => S.chosen.set(agentId, select.value)},
    STATES.map((s) => el('option', {value: s, text: s})));
  const apply = el('button', {type: 'button', 'data-testid': 'state-apply', text: 'Set',
    onclick: async () => {
      apply.disabled = true;
      const state = select.value;
      try {
        const reason = state === 'away' ? 'supervisor' : undefined;
        const view = await api('PUT', `/api/agents/${encodeURIComponent(agentId)}/state`, {state, reason});
        S.chosen.delete(agentId);
        upsertAgent(view);
      } catch (err) { showError(err, `set ${agentId}`); } finally { apply.disabled = false; }
    }});
  const monitor = MONITOR_MODES.map((mode) => {
    const button = el('button', {type: 'button', 'data-testid': `monitor-${mode}`, text: mode,
      onclick: async () => {
        button.disabled = true;
        try {
          await api('POST', `/api/agents/${encodeURIComponent(agentId)}/monitor`, {mode});
          addEvent(`you ${mode} to ${current().name || agentId}: your phone rings`);
        } catch (err) { showError(err, `${mode} ${agentId}`); } finally { button.disabled = false; }
      }});
    return button;
  });
  const name = el('strong');
  const pill = el('span', {class: 'pill', 'data-testid': 'agent-state'});
  const load = el('td', {class: 'num', 'data-testid': 'agent-load'});
  const work = el('td', {'data-testid': 'agent-work'});
  const tr = el('tr', {'data-testid': 'agent-row', 'data-agent': agentId},
    el('td', {}, name, ' ', el('span', {class: 'muted', text: agentId})),
    el('td', {}, pill), load, work,
    el('td', {}, el('div', {class: 'controls'}, select, apply)),
    el('td', {}, el('div', {class: 'controls'}, monitor)));
  return {tr, name, pill, load, work, select, monitor, shown: {}};
}

// Writes into a kept row what it shows of ``agent`` now, each part only when it changed.
function fillRow(row, agent) {
  const shown = row.shown;
  const set = (key, value, write) => { if (shown[key] !== value) { shown[key] = value; write(value); } };
  set('name', agent.name || agent.id, (v) => { row.name.textContent = v; });
  set('state', agent.state, (v) => { row.pill.dataset.state = v; });
  set('pill', agent.reason ? `${agent.state} (${agent.reason})` : agent.state, (v) => { row.pill.textContent = v; });
  set('load', loadText(agent), (v) => { row.load.textContent = v; });
  const items = workOf(agent.id);
  set('work', items.key, () => { row.work.replaceChildren(...items.nodes()); });
  // A state chosen but not yet set stays in the select; otherwise it shows the agent's state
  // (the first choice for a state that is not one, as wrap_up).
  const chosen = S.chosen.get(agent.id) || agent.state;
  set('chosen', chosen, (v) => { row.select.value = STATES.includes(v) ? v : STATES[0]; });
  const onCall = ((agent.load || {}).voice || 0) > 0;
  set('monitor', `${S.voice}|${onCall}`, () => {
    for (const button of row.monitor) {
      button.disabled = !(S.voice && onCall);
      button.title = S.voice ? (onCall ? `${button.textContent} on your phone` : 'not on a call') : 'no telephony link';
    }
  });
}

// What each agent holds now: channel, state and how long (offered, talking, wrapping up). The
// key is the text shown, so the cell is rebuilt only when it reads differently.
function workOf(agentId) {
  const now = Date.now() / 1000;
  const items = (S.work.get(agentId) || []).map((i) => {
    const since = i.state === 'offered' ? i.offered_at : (i.answered_at || i.offered_at || i.arrived_at);
    return {channel: i.channel, state: i.state, text: `${i.channel} ${i.state.replace('_', ' ')} ${fmtSeconds(now - since)}`};
  });
  const nodes = () => {
    if (!items.length) return ['—'];
    return items.map((i) => el('span', {class: 'work', 'data-testid': 'work-item', 'data-channel': i.channel,
                                        'data-state': i.state}, i.text))
      .flatMap((node, n) => (n ? [' · ', node] : [node]));
  };
  return {key: JSON.stringify(items), nodes};
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
  drawSoon('agents', drawAgents);
}

const rows = new Map();  // agent id -> the row agentRow built, kept while the agent is on the board

function drawAgents() {
  const agents = [...S.agents.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
  const wanted = agents.map((agent) => {
    if (!rows.has(agent.id)) rows.set(agent.id, agentRow(agent.id));
    const row = rows.get(agent.id);
    fillRow(row, agent);
    return row.tr;
  });
  for (const id of rows.keys()) if (!S.agents.has(id)) rows.delete(id);
  // Only what moved is moved: rows gone from the board end up last and are removed.
  const body = $('agents');
  wanted.forEach((tr, n) => { if (body.children[n] !== tr) body.insertBefore(tr, body.children[n] || null); });
  while (body.children.length > wanted.length) body.lastElementChild.remove();
}

function upsertAgent(view) {
  if (!view || !view.id) return;
  S.agents.set(view.id, view);
  renderAgents();
}

// Each state event an agent's row took, counted: details asked before the latest of them may
// come back after it, and must not put an older state back on the row.
const stateSeen = new Map();  // agent id -> count of state events
// Agents whose detail (load, capacity) is wanted; asked together, in one request for the team,
// at most every REFRESH_MS: a burst of events about many agents costs a few requests.
const REFRESH_MS = 250;
const wanted = new Set();
let refreshing = null;  // the timer, or true while the request is out

function refreshAgent(agentId) {
  if (!S.agents.has(agentId)) return;  // not on my team
  wanted.add(agentId);
  if (refreshing === null) refreshing = setTimeout(refreshAgents, REFRESH_MS);
}

async function refreshAgents() {
  refreshing = true;
  const asked = new Map([...wanted].map((id) => [id, stateSeen.get(id) || 0]));
  wanted.clear();
  try {
    for (const view of (await api('GET', '/api/agents')) || []) {
      if (!asked.has(view.id) || !S.agents.has(view.id)) continue;
      const now = S.agents.get(view.id);
      const overtaken = (stateSeen.get(view.id) || 0) !== asked.get(view.id);
      upsertAgent(overtaken ? {...view, state: now.state, reason: now.reason} : view);  // the event is newer
    }
  } catch (err) { showError(err, 'agents'); }
  finally {
    refreshing = null;
    if (wanted.size) refreshing = setTimeout(refreshAgents, REFRESH_MS);
  }
}

on('hello', (msg) => {
  S.agents = new Map((msg.agents || []).map((a) => [a.id, a]));
  renderAgents();
  refreshWork();
});
on('lagged', () => { for (const id of S.agents.keys()) refreshAgent(id); });
on('agent.state_changed', (msg) => {
  if (!S.agents.has(msg.agent_id)) return;
  stateSeen.set(msg.agent_id, (stateSeen.get(msg.agent_id) || 0) + 1);
  upsertAgent({...S.agents.get(msg.agent_id), state: msg.state, reason: msg.reason});
});
on('board.message', (msg) => {
  if (msg.type.startsWith('interaction.') && msg.agent_id && msg.type !== 'interaction.offered') {
    refreshAgent(msg.agent_id);
  }
});
