// The inbox: a compact list of my conversations (channel, customer, unread count, how long the
// customer has been waiting for an answer) above the selected one, and my recently closed work,
// still reachable. Selecting a row brings its card into view and clears its unread count.
import {el} from '../shared/dom.js';
import {fmtSeconds, fmtTime} from '../shared/format.js';
import {api, mount, on} from './desk.js';
import {customerName, items} from './items.js';
import {openCustomer} from './customer.js';

const unread = new Map();  // interaction id -> count
let current = null;        // the selected interaction id

const list = el('ul', {class: 'inbox', 'data-testid': 'inbox', 'aria-label': 'My conversations'});
const recent = el('ul', {class: 'inbox recent', 'data-testid': 'recent-list'});
const recentBox = el('details', {class: 'recent-box', 'data-testid': 'recent'},
  el('summary', {text: 'Recently closed'}), recent);
mount('work-top', el('nav', {class: 'inbox-box', 'aria-label': 'Inbox'}, list, recentBox));

function conversations() {
  return [...items.values()].filter((i) => i.mode === 'conversation');
}

// Seconds since the customer's oldest message that no agent message followed (0: answered).
function waitingSince(item) {
  let since = null;
  for (const m of [...item.messages.values()].sort((a, b) => a.at - b.at)) {
    if (m.sender === 'customer') since = since ?? m.at;
    else if (m.sender === 'agent') since = null;
  }
  return since;
}

export function selected() {
  return current && items.get(current) && items.get(current).mode === 'conversation' ? items.get(current) : null;
}

export function select(id, {focus = true} = {}) {
  const item = items.get(id);
  if (!item || !item.el) return;
  current = id;
  unread.delete(id);
  for (const other of conversations()) other.el.classList.toggle('selected', other.id === id);
  item.el.scrollIntoView({block: 'nearest'});
  if (focus) {
    const reply = item.parts.replyInput;
    if (reply && !reply.disabled) reply.focus();
    else { item.el.setAttribute('tabindex', '-1'); item.el.focus(); }
  }
  draw();
}

export function next(step = 1) {
  const all = conversations();
  if (!all.length) return;
  const at = all.findIndex((i) => i.id === current);
  select(all[(at + step + all.length) % all.length].id);
}

function draw() {
  const now = Date.now() / 1000;
  list.replaceChildren(...conversations().map((item) => {
    const count = unread.get(item.id) || 0;
    const since = waitingSince(item);
    const channel = (item.interaction || {}).channel || '?';
    return el('li', {},
      el('button', {type: 'button', class: `inbox-row${item.id === current ? ' selected' : ''}`,
                    'data-testid': 'inbox-row', 'data-interaction-id': item.id,
                    'aria-current': item.id === current ? 'true' : null, onclick: () => select(item.id)},
        el('span', {class: 'badge', 'data-channel': channel, text: channel}), ' ',
        el('span', {class: 'inbox-name', text: customerName(item)}),
        count ? el('span', {class: 'unread', 'data-testid': 'inbox-unread',
                            'aria-label': `${count} unread`, text: String(count)}) : null,
        since ? el('small', {class: 'waiting', 'data-testid': 'inbox-waiting',
                             text: ` waiting ${fmtSeconds(now - since)}`}) : null));
  }));
  list.hidden = list.children.length === 0;
}

async function loadRecent() {
  try {
    const body = await api('GET', '/api/me/recent?limit=10');
    recent.replaceChildren(...body.interactions.map((r) => el('li', {},
      el('button', {type: 'button', class: 'inbox-row', 'data-testid': 'recent-row', 'data-interaction-id': r.id,
                    onclick: () => openCustomer(r.customer_id)},
        el('span', {class: 'badge', 'data-channel': r.channel, text: r.channel}), ' ',
        el('span', {text: r.customer_name || 'Unknown customer'}),
        el('small', {text: ` ${r.disposition || r.state} · ${fmtTime(r.ended_at)}`})))));
  } catch (exc) { /* the list stays as it was; the socket reports a lost session */ }
}

on('desk.item', ({item, mode}) => {
  if (mode === 'conversation' && !selected()) select(item.id, {focus: false});
  draw();
});
on('desk.item.removed', (item) => {
  unread.delete(item.id);
  if (current === item.id) current = null;
  draw();
  setTimeout(loadRecent, 300);
});
on('message.added', (msg) => {
  const item = items.get(msg.interaction_id);
  if (!item || item.mode !== 'conversation' || !msg.message) return;
  const seen = msg.interaction_id === current && document.hasFocus() && item.el.contains(document.activeElement);
  if (msg.message.sender === 'customer' && !seen) unread.set(item.id, (unread.get(item.id) || 0) + 1);
  draw();
});
on('hello', loadRecent);
on('desk.logout', () => { unread.clear(); current = null; draw(); recent.replaceChildren(); });
// Focus inside a card selects it: what the agent is reading is read.
document.addEventListener('focusin', (event) => {
  const card = event.target.closest && event.target.closest('[data-testid="conversation"]');
  const id = card && card.dataset.interactionId;
  if (id && id !== current && items.has(id)) select(id, {focus: false});
  else if (id && unread.has(id)) { unread.delete(id); draw(); }
});
setInterval(draw, 5000);
