// Canned replies typed with "/" in the reply box: "/" and a few letters list the agent's replies
// (their team's, filled in by the server for this conversation); arrows choose, Enter or Tab
// puts the text into the box (as text, never HTML) for the agent to read and send; Escape closes.
import {el} from '../shared/dom.js';
import {api, on, showError} from './desk.js';
import {items} from './items.js';

const TOKEN = /(^|\s)\/([^\s/]*)$/;  // "/" at the start of a word, up to the caret
let seq = 0;

function attach(item) {
  const input = item.parts.replyInput;
  if (!input || item.parts.canned) return;
  const listId = `canned-${++seq}`;
  const list = el('ul', {id: listId, class: 'canned-list', role: 'listbox', 'data-testid': 'canned-list',
                         'aria-label': 'Canned replies', hidden: true});
  const state = {replies: null, shown: [], active: 0, loading: null};
  item.parts.canned = list;
  // The admins changed the replies: filled in again from the server at the next "/".
  item.parts.cannedStale = () => { state.replies = null; state.loading = null; };
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-autocomplete', 'list');
  // (No aria-expanded: a textarea may not carry it; the listbox's own visibility says it.)
  input.after(list);

  async function load() {
    if (state.replies) return state.replies;
    state.loading = state.loading || api('GET', `/api/interactions/${encodeURIComponent(item.id)}/canned-replies`)
      .then((body) => { state.replies = body.canned_replies || []; return state.replies; })
      .catch((exc) => { state.loading = null; showError(exc, 'canned replies'); return []; });
    return state.loading;
  }

  function token() {
    const before = input.value.slice(0, input.selectionStart ?? input.value.length);
    const found = TOKEN.exec(before);
    return found ? {query: found[2].toLowerCase(), start: before.length - found[2].length - 1} : null;
  }

  function close() {
    list.hidden = true;
    state.shown = [];
    input.removeAttribute('aria-activedescendant');
  }

  function draw() {
    list.replaceChildren(...state.shown.map((r, n) => el('li', {
      id: `${listId}-${n}`, role: 'option', class: 'canned-option', 'data-testid': 'canned-option',
      'data-reply-id': r.id, 'aria-selected': n === state.active ? 'true' : 'false',
      onmousedown: (event) => { event.preventDefault(); choose(n); },
    }, el('strong', {text: `/${r.id}`}), ' ', el('span', {text: r.title}))));
    list.hidden = state.shown.length === 0;
    if (!list.hidden) input.setAttribute('aria-activedescendant', `${listId}-${state.active}`);
  }

  async function update() {
    const found = token();
    if (!found) { close(); return; }
    const replies = await load();
    const again = token();  // the box may have changed while the list was loading
    if (!again) { close(); return; }
    state.shown = replies.filter((r) => r.id.toLowerCase().includes(again.query)
                                        || r.title.toLowerCase().includes(again.query)).slice(0, 8);
    state.active = Math.min(state.active, Math.max(0, state.shown.length - 1));
    draw();
  }

  function choose(n) {
    const reply = state.shown[n];
    const found = token();
    if (!reply || !found) { close(); return; }
    const caret = input.selectionStart ?? input.value.length;
    input.value = input.value.slice(0, found.start) + reply.text + input.value.slice(caret);
    const at = found.start + reply.text.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  }

  input.addEventListener('input', () => { state.active = 0; update(); });
  input.addEventListener('blur', () => setTimeout(close, 150));
  // Captured on the card, so a chosen reply's Enter never reaches the box's own "Enter sends".
  item.el.addEventListener('keydown', (event) => {
    if (event.target !== input || list.hidden) return;
    const moves = {ArrowDown: 1, ArrowUp: -1};
    if (event.key in moves) {
      state.active = (state.active + moves[event.key] + state.shown.length) % state.shown.length;
      draw();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      choose(state.active);
    } else if (event.key === 'Escape') {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }, {capture: true});
}

on('desk.item', ({item, mode}) => { if (mode === 'conversation') attach(item); });
on('desk.options', () => {
  for (const item of items.values()) if (item.parts && item.parts.cannedStale) item.parts.cannedStale();
});
