// Every customer waiting for an agent in my teams' queues, on every channel, longest wait first:
// pick one for an agent (only they are offered it), or reassign an offer to another agent or
// queue. The list is read from GET /api/waiting at once when a queue event arrives (gathered
// over a short moment) and every few seconds otherwise; one timer, stopped at log-out.
import {coalesced} from '../shared/coalesce.js';
import {el} from '../shared/dom.js';
import {fmtSeconds} from '../shared/format.js';
import {S, addEvent, api, mount, on, showError} from './board.js';

const TICK_MS = 1000;
const REFRESH_TICKS = 5;  // the list is read again every 5 s
const GATHER_MS = 250;
const MOVES = new Set(['interaction.queued', 'interaction.offered', 'interaction.accepted',
  'interaction.offer_withdrawn', 'interaction.abandoned', 'interaction.transferred']);

const rows = el('tbody', {'data-testid': 'waiting-rows'});
const empty = el('p', {class: 'muted', 'data-testid': 'waiting-empty', text: 'Nobody is waiting.'});
mount('board-top', el('section', {class: 'card', 'aria-labelledby': 'waiting-title', 'data-testid': 'waiting'},
  el('h2', {id: 'waiting-title', text: 'Waiting customers'}),
  el('table', {},
    el('thead', {}, el('tr', {},
      ['Channel', 'Queue', 'Waiting for', 'Priority', 'State', 'Send to'].map(
        (name) => el('th', {scope: 'col', text: name})))),
    rows),
  empty));

// chosen: interaction id -> the target picked in its row, kept when the rows are drawn again.
const W = {list: [], at: 0, timer: null, ticks: 0, chosen: new Map()};

function agentOptions(item, chosen) {
  return [...S.agents.values()].filter((a) => a.id !== item.offered_to).map((a) => el('option', {
    value: `agent:${a.id}`, text: `${a.name || a.id} (${a.state})`, selected: chosen === `agent:${a.id}`}));
}

function queueOptions(item, chosen) {
  const queues = Object.keys((S.stats && S.stats.queues_configured) || {}).filter((q) => q !== item.queue);
  return queues.map((q) => el('option', {value: `queue:${q}`, text: `queue ${q}`, selected: chosen === `queue:${q}`}));
}

function row(item) {
  const chosen = W.chosen.get(item.interaction_id);
  const target = el('select', {'data-testid': 'waiting-target', 'aria-label': `send ${item.channel} customer to`,
                               onchange: () => W.chosen.set(item.interaction_id, target.value)},
    el('optgroup', {label: 'agent'}, agentOptions(item, chosen)),
    item.state === 'offered' ? el('optgroup', {label: 'queue'}, queueOptions(item, chosen)) : null);
  const go = el('button', {type: 'button', 'data-testid': item.state === 'offered' ? 'waiting-reassign' : 'waiting-pick',
    text: item.state === 'offered' ? 'Reassign' : 'Pick',
    onclick: async () => {
      const [kind, id] = target.value.split(/:(.*)/s);
      if (!id) return;
      go.disabled = true;
      // A queued customer is picked for an agent; an offer is reassigned (to an agent or a queue).
      const path = `/api/interactions/${encodeURIComponent(item.interaction_id)}/` +
        (item.state === 'offered' ? 'reassign' : 'pick');
      try {
        await api('POST', path, kind === 'queue' ? {queue: id} : {agent_id: id});
        addEvent(`${item.channel} customer sent to ${kind} ${id}`);
        refreshSoon();
      } catch (err) { showError(err, `send to ${id}`); } finally { go.disabled = false; }
    }});
  return el('tr', {'data-testid': 'waiting-row', 'data-interaction': item.interaction_id,
                   'data-channel': item.channel, 'data-state': item.state},
    el('td', {text: item.channel}),
    el('td', {text: (item.also_queues || []).length ? `${item.queue} (also ${item.also_queues.join(', ')})`
                                                    : item.queue}),
    el('td', {class: 'num', 'data-testid': 'waiting-for', 'data-since': String(W.at - item.waited)}),
    el('td', {class: 'num', text: String(item.priority)}),
    el('td', {text: item.offered_to ? `offered to ${item.offered_to}` : 'queued'}),
    el('td', {}, el('div', {class: 'controls'}, target, go)));
}

function tick() {
  const now = Date.now() / 1000;
  for (const cell of rows.querySelectorAll('[data-testid=waiting-for]')) {
    cell.textContent = fmtSeconds(Math.max(0, now - Number(cell.dataset.since))) || '0 s';
  }
}

function draw() {
  // A select open under the supervisor's hand is not redrawn; a choice made survives a redraw.
  if (rows.contains(document.activeElement) && document.activeElement.tagName === 'SELECT') return;
  rows.replaceChildren(...W.list.map(row));
  empty.hidden = W.list.length > 0;
  tick();
}

async function refresh() {
  if (!S.wanted) return;
  try {
    const body = await api('GET', '/api/waiting');
    // The server's clock for "waited"; this page's for the ticking seconds after it.
    W.at = Date.now() / 1000;
    W.list = body.waiting || [];
    const listed = new Set(W.list.map((i) => i.interaction_id));
    for (const id of W.chosen.keys()) if (!listed.has(id)) W.chosen.delete(id);
    draw();
  } catch (err) {
    if (err.status !== 401) showError(err, 'waiting customers');
  }
}

const refreshSoon = coalesced(refresh, GATHER_MS);

function stop() {
  clearInterval(W.timer);
  refreshSoon.cancel();
  W.timer = null; W.list = []; W.chosen.clear();
  rows.replaceChildren();
}

on('board.login', () => {
  stop();  // one poller per page, however many log-ins
  W.timer = setInterval(() => {
    tick();
    if (++W.ticks % REFRESH_TICKS === 0) refreshSoon();
  }, TICK_MS);
  refreshSoon();
});
on('board.logout', stop);
on('board.message', (msg) => { if (MOVES.has(msg.type)) refreshSoon(); });
