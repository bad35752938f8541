// Customer search (as far as the agent may read: the customers they served or were shared) and
// the customer panel: the history grouped by conversation with its channel, outcome and
// disposition, paged back with "Older", reloaded when a conversation of that customer changes.
import {el} from '../shared/dom.js';
import {fmtTime} from '../shared/format.js';
import {api, mount, on, showError} from './desk.js';
import {items} from './items.js';

const PAGE = 30;
const panel = {customerId: null, cursor: null, groups: [], timer: null};

const query = el('input', {type: 'search', 'data-testid': 'customer-search', placeholder: 'Find a customer',
                           'aria-label': 'Find a customer', minlength: '2', maxlength: '200'});
const results = el('ul', {class: 'search-results', 'data-testid': 'customer-results', hidden: true});
const form = el('form', {class: 'customer-search', role: 'search'}, query,
  el('button', {type: 'submit', text: 'Search'}), results);
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const q = query.value.trim();
  if (q.length < 2) return;
  try {
    const body = await api('GET', `/api/customers?q=${encodeURIComponent(q)}&limit=10`);
    results.replaceChildren(...(body.customers.length ? body.customers.map((c) => el('li', {},
      el('button', {type: 'button', 'data-testid': 'customer-result', 'data-customer-id': c.id,
                    onclick: () => { results.hidden = true; openCustomer(c.id); }},
        c.display_name || c.id, ' ',
        el('small', {text: (c.identities || []).map((i) => i.value).slice(0, 2).join(', ')}))))
      : [el('li', {class: 'empty', text: 'No customer you may read matches.'})]));
    results.hidden = false;
  } catch (exc) { showError(exc, 'customer search'); }
});
mount('header-tools', form);

const title = el('h2', {id: 'customer-title', text: 'Customer'});
const body = el('div', {class: 'conversations-list', 'data-testid': 'customer-conversations'});
const older = el('button', {type: 'button', 'data-testid': 'customer-older', text: 'Older', hidden: true,
                            onclick: () => loadPage(false)});
const aside = el('aside', {class: 'customer-panel', 'data-testid': 'customer-panel', hidden: true,
                           'aria-labelledby': 'customer-title'},
  el('div', {class: 'card-head'}, title,
    el('button', {type: 'button', 'aria-label': 'Close customer panel', text: '×',
                  onclick: () => { aside.hidden = true; panel.customerId = null; }})),
  body, older);
mount('work-column', aside);

function drawGroups() {
  body.replaceChildren(...panel.groups.map((c) => el('section', {
    class: 'history-conv', 'data-testid': 'customer-conversation', 'data-interaction-id': c.interaction_id},
  el('header', {},
    el('span', {class: 'badge', 'data-channel': c.channel, text: c.channel}), ' ',
    el('strong', {'data-testid': 'conversation-outcome', text: c.outcome || c.state || 'open'}),
    c.disposition ? el('span', {'data-testid': 'conversation-disposition', text: ` · ${c.disposition}`}) : null,
    el('small', {text: ` · ${fmtTime(c.arrived_at)}`})),
  el('ul', {}, c.entries.filter((e) => e.kind !== 'interaction').map((e) => el('li', {},
    el('small', {text: `${e.sender || e.kind}: `}), e.summary))))));
}

async function loadPage(first) {
  const id = panel.customerId;
  if (!id) return;
  const before = first ? '' : `&before=${encodeURIComponent(panel.cursor || '')}`;
  try {
    const page = await api('GET', `/api/customers/${encodeURIComponent(id)}/conversations?limit=${PAGE}${before}`);
    if (panel.customerId !== id) return;
    const groups = first ? [] : panel.groups;
    for (const c of page.conversations) {
      const last = groups[groups.length - 1];
      // A conversation cut by the page goes on in the next one.
      if (last && last.interaction_id === c.interaction_id) last.entries.push(...c.entries);
      else groups.push(c);
    }
    panel.groups = groups;
    panel.cursor = page.next_cursor;
    older.hidden = !page.next_cursor;
    drawGroups();
  } catch (exc) { showError(exc, 'customer history'); }
}

export async function openCustomer(customerId) {
  panel.customerId = customerId;
  panel.groups = [];
  panel.cursor = null;
  aside.hidden = false;
  title.textContent = 'Customer';
  try {
    const customer = await api('GET', `/api/customers/${encodeURIComponent(customerId)}`);
    title.textContent = customer.display_name || customer.id;
  } catch (exc) { showError(exc, 'customer'); aside.hidden = true; return; }
  await loadPage(true);
  aside.scrollIntoView({block: 'nearest'});
}

function customerOf(interactionId) {
  const item = items.get(interactionId);
  return item && item.pop && item.pop.customer ? item.pop.customer.id : null;
}

// Live: a change in one of the open customer's conversations reloads the first page (once per
// burst of events).
function touched(interactionId, customerId) {
  if (!panel.customerId || aside.hidden) return;
  const mine = customerId === panel.customerId || customerOf(interactionId) === panel.customerId
    || panel.groups.some((c) => c.interaction_id === interactionId);
  if (!mine) return;
  clearTimeout(panel.timer);
  panel.timer = setTimeout(() => loadPage(true), 400);
}

for (const type of ['message.added', 'interaction.closed', 'interaction.wrap_up', 'interaction.accepted']) {
  on(type, (msg) => touched(msg.interaction_id, null));
}
on('customer.updated', (msg) => touched(null, msg.customer_id));
on('desk.logout', () => { aside.hidden = true; panel.customerId = null; results.hidden = true; query.value = ''; });

// Each conversation card opens its customer's history.
on('desk.item', ({item, mode}) => {
  const p = item.parts;
  if (mode !== 'conversation' || p.history || !p.title) return;
  p.history = el('button', {type: 'button', 'data-testid': 'open-history', text: 'History',
                            onclick: () => { const id = customerOf(item.id); if (id) openCustomer(id); }});
  p.title.after(p.history);
});
