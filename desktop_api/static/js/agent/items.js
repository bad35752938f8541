// The agent's work items (an offer or a conversation each), keyed by interaction id, and how an
// item is drawn: a view per mode ("offer", "conversation") registered by its module, plus the
// screen pop, the messages and the notes every item shows.
//
// pop.js imports fetchPop from here and this module imports pop.js: the cycle is safe because
// neither uses the other at load time, only inside functions called later.
import {$} from '../shared/dom.js';
import {api, emit, on} from './desk.js';
import {renderMessages, renderNotes} from './messages.js';
import {renderPop} from './pop.js';

export const items = new Map();  // interaction id -> item
const views = new Map();         // mode -> {build(item) -> element, update(item), container}

// ``container`` is the id of the element the mode's cards go into.
export function registerView(mode, {build, update, container}) {
  views.set(mode, {build, update, container});
}

export function customerName(item) {
  const customer = item.pop && item.pop.customer;
  return (customer && customer.display_name) || 'Unknown customer';
}

function newItem(id) {
  return {id, pop: null, interaction: null, messages: new Map(), notes: new Map(),
          offer: null, mode: null, el: null, parts: {}};
}

export function addMessages(item, messages) {
  for (const m of messages || []) if (m && m.id) item.messages.set(m.id, m);
}

export function addNotes(item, notes) {
  for (const n of notes || []) if (n && n.id) item.notes.set(n.id, n);
}

export function upsertFromPop(pop, offer) {
  const id = pop.interaction.id;
  const item = items.get(id) || newItem(id);
  items.set(id, item);
  item.pop = pop;
  item.interaction = pop.interaction;
  addMessages(item, pop.messages);
  addNotes(item, pop.notes);
  if (offer) item.offer = offer;
  const state = pop.interaction.state;
  if (state === 'offered') render(item, 'offer');
  else if (state === 'active' || state === 'wrap_up') render(item, 'conversation');
  else removeItem(id);
}

export function toConversation(id, interaction) {
  let item = items.get(id);
  if (!item) {
    item = newItem(id);
    items.set(id, item);
    fetchPop(id);
  }
  if (interaction) item.interaction = interaction;
  item.offer = null;
  render(item, 'conversation');
  refreshDetail(id);
}

// The screen pop of work this page did not see offered (accepted from another tab).
export async function fetchPop(id) {
  try {
    const pop = await api('GET', `/api/interactions/${encodeURIComponent(id)}/screen-pop`);
    const item = items.get(id);
    if (!item || !pop) return;
    item.pop = {...pop, routing: (item.pop && item.pop.routing) || pop.routing};
    addMessages(item, pop.messages);
    addNotes(item, pop.notes);
    render(item, item.mode);
  } catch (exc) { /* the socket will tell if it went away */ }
}

// Messages stored between the offer's screen pop and the socket's events are fetched once more.
export async function refreshDetail(id) {
  try {
    const detail = await api('GET', `/api/interactions/${encodeURIComponent(id)}`);
    const item = items.get(id);
    if (!item || !detail) return;
    addMessages(item, detail.messages);
    addNotes(item, detail.notes);
    renderMessages(item);
    renderNotes(item);
  } catch (exc) { /* withdrawn or closed meanwhile: nothing to refresh */ }
}

export function removeItem(id) {
  const item = items.get(id);
  items.delete(id);
  if (item && item.el) item.el.remove();
  updateEmpty();
  if (item) emit('desk.item.removed', item);
}

export function updateEmpty() {
  const all = [...items.values()];
  $('offers-empty').hidden = all.some((i) => i.mode === 'offer');
  $('work-empty').hidden = all.some((i) => i.mode === 'conversation');
}

export function render(item, mode) {
  const view = views.get(mode);
  if (item.mode !== mode || !item.el) {
    if (item.el) item.el.remove();
    item.mode = mode;
    item.parts = {};
    item.el = view.build(item);
    $(view.container).append(item.el);
  }
  renderPop(item);
  renderMessages(item);
  renderNotes(item);
  view.update(item);
  updateEmpty();
  emit('desk.item', {item, mode});
}

// ----- what the socket says about any item ------------------------------------------------

on('hello', (msg) => {
  const pops = Array.isArray(msg.interactions) ? msg.interactions : [];
  const seen = new Set();
  for (const pop of pops) {
    if (!pop || !pop.interaction) continue;
    seen.add(pop.interaction.id);
    upsertFromPop(pop, null);
  }
  // Work that ended while the socket was down.
  for (const id of [...items.keys()]) if (!seen.has(id)) removeItem(id);
});

on('message.added', (msg) => {
  const item = items.get(msg.interaction_id);
  if (!item || !msg.message) return;
  addMessages(item, [msg.message]);
  renderMessages(item);
});

on('desk.logout', () => {
  items.clear();
  $('offers').replaceChildren();
  $('conversations').replaceChildren();
  updateEmpty();
});
