// Knowledge in the agent desk: beside each conversation, the articles that fit it (both parts, from
// GET /api/interactions/{id}/kb-suggestions, asked again when the customer writes) and the canned
// replies (with the public part of the article they name, GET /api/kb/canned-replies). One click
// inserts an article's public part, or a canned reply's text, into that conversation's reply box:
// the internal part is for the agent to read, never inserted. See docs/knowledge.md.
import {el} from '../shared/dom.js';
import {api, on} from './desk.js';

const REFRESH_MS = 1500;  // the customer's new messages: ask again at most this often per conversation

const panels = new Map();  // interaction id -> {box, item, timer}
let canned = null;  // the canned replies, loaded once a session

// Insert at the cursor (or at the end), apart from what is already written by a blank line.
export function insertIntoReply(textarea, text) {
  if (!textarea || textarea.disabled || !text) return false;
  const value = textarea.value;
  const at = document.activeElement === textarea && textarea.selectionStart === textarea.selectionEnd
    ? textarea.selectionStart : value.length;
  const before = value.slice(0, at);
  const joint = before && !before.endsWith('\n\n') ? (before.endsWith('\n') ? '\n' : '\n\n') : '';
  textarea.value = before + joint + text + value.slice(at);
  const caret = (before + joint + text).length;
  textarea.focus();
  textarea.setSelectionRange(caret, caret);
  return true;
}

function articleItem(article, item) {
  const internal = el('p', {class: 'kb-internal', 'data-testid': 'kb-suggestion-internal',
                            text: article.internal_body || ''});
  internal.hidden = !article.internal_body;
  const insert = el('button', {type: 'button', 'data-testid': 'kb-suggestion-insert',
                               title: 'Insert the public part into the reply', text: 'Insert'});
  insert.disabled = !article.public_body;
  insert.addEventListener('click', () => insertIntoReply(item.parts.replyInput, article.public_body));
  return el('li', {'data-testid': 'kb-suggestion', 'data-article-id': article.id},
    el('details', {},
      el('summary', {'data-testid': 'kb-suggestion-title', text: article.title}),
      el('p', {class: 'kb-public', 'data-testid': 'kb-suggestion-public', text: article.public_body || ''}),
      internal),
    insert);
}

function cannedPicker(item) {
  const select = el('select', {'data-testid': 'kb-canned-select', 'aria-label': 'Canned reply'},
    el('option', {value: '', text: 'Canned reply…'}),
    ...canned.map((c) => el('option', {value: c.id, text: c.title})));
  const insert = el('button', {type: 'button', 'data-testid': 'kb-canned-insert', text: 'Insert'});
  insert.addEventListener('click', () => {
    const chosen = canned.find((c) => c.id === select.value);
    if (chosen) insertIntoReply(item.parts.replyInput, chosen.text);
  });
  return el('div', {class: 'kb-canned'}, select, insert);
}

async function refresh(id) {
  const state = panels.get(id);
  if (!state) return;
  let articles = [];
  try {
    if (canned === null) canned = (await api('GET', '/api/kb/canned-replies')).canned_replies;
    articles = (await api('GET', `/api/interactions/${encodeURIComponent(id)}/kb-suggestions`)).articles;
  } catch (exc) {
    return;  // suggestions are a help: a failure leaves the desk as it was
  }
  if (panels.get(id) !== state) return;  // closed or redrawn meanwhile
  const list = el('ul', {class: 'kb-suggestions', 'data-testid': 'kb-suggestions'},
    ...articles.map((a) => articleItem(a, state.item)));
  state.box.replaceChildren(el('h3', {text: 'Knowledge'}), list,
    articles.length ? '' : el('p', {class: 'empty', text: 'No article fits yet.'}),
    canned && canned.length ? cannedPicker(state.item) : '');
}

on('desk.item', ({item, mode}) => {
  const reply = item.parts && item.parts.replyInput;
  const known = panels.get(item.id);
  if (mode !== 'conversation' || !reply) return;
  if (known && known.item.el === item.el && item.el.contains(known.box)) return;
  // A call has no reply box on the page: the articles go under the call's panel, to read out.
  const anchor = reply.isConnected ? reply.parentNode : item.el.querySelector('[data-testid=call-panel]');
  if (!anchor) return;
  const box = el('section', {class: 'kb-panel', 'data-testid': 'kb-panel', 'aria-label': 'Knowledge'});
  anchor.after(box);
  panels.set(item.id, {box, item, timer: null});
  refresh(item.id);
});

on('message.added', (msg) => {
  const state = panels.get(msg.interaction_id);
  if (!state || !msg.message || msg.message.sender !== 'customer' || state.timer) return;
  state.timer = setTimeout(() => {
    state.timer = null;
    refresh(msg.interaction_id);
  }, REFRESH_MS);
});

on('desk.item.removed', (item) => {
  const state = panels.get(item.id);
  if (state) clearTimeout(state.timer);
  panels.delete(item.id);
});

on('desk.logout', () => {
  for (const state of panels.values()) clearTimeout(state.timer);
  panels.clear();
  canned = null;
});
