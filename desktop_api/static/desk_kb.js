// Knowledge in the agent desk: beside each open conversation, the articles that fit it (both parts,
// from GET /api/interactions/{id}/kb-suggestions) and the canned replies (with the public part of
// the article they name, GET /api/kb/canned-replies). One click inserts an article's public part,
// or a canned reply's text, into that conversation's reply box: the internal part is for the
// agent to read, never inserted. An ES module of its own: it finds conversations by their
// data-testid and data-interaction-id, and owns only the panel it adds. All text goes in as text.
const TOKEN_KEY = 'cti.agent.token';
const REFRESH_MS = 1500;  // new customer messages: ask again, at most this often per conversation

const panels = new Map();  // interaction id -> {box, timer, refresh}
let canned = null;  // the canned replies, loaded once per page

function node(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'class') n.className = value;
    else if (key === 'text') n.textContent = String(value);
    else n.setAttribute(key, String(value));
  }
  n.append(...children);
  return n;
}

async function get(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const r = await fetch(path, {headers: {'Accept': 'application/json', 'Authorization': `Bearer ${token}`}});
    return r.ok ? await r.json() : null;
  } catch (exc) {
    return null;  // suggestions are a help: a failure leaves the desk as it was
  }
}

// Insert at the cursor (or at the end), separated from what is already written by a blank line.
export function insertIntoReply(textarea, text) {
  if (!textarea || textarea.disabled) return false;
  const value = textarea.value;
  const at = textarea.selectionStart === textarea.selectionEnd && document.activeElement === textarea
    ? textarea.selectionStart : value.length;
  const before = value.slice(0, at);
  const joint = before && !before.endsWith('\n\n') ? (before.endsWith('\n') ? '\n' : '\n\n') : '';
  textarea.value = before + joint + text + value.slice(at);
  const caret = (before + joint + text).length;
  textarea.focus();
  textarea.setSelectionRange(caret, caret);
  textarea.dispatchEvent(new Event('input', {bubbles: true}));
  return true;
}

function articleItem(article, reply) {
  const internal = node('p', {class: 'kb-internal', 'data-testid': 'kb-suggestion-internal',
                              text: article.internal_body || ''});
  internal.hidden = !article.internal_body;
  const insert = node('button', {type: 'button', 'data-testid': 'kb-suggestion-insert',
                                 title: 'Insert the public part into the reply', text: 'Insert'});
  insert.disabled = !article.public_body;
  insert.addEventListener('click', () => insertIntoReply(reply(), article.public_body));
  const details = node('details', {},
    node('summary', {'data-testid': 'kb-suggestion-title', text: article.title}),
    node('p', {class: 'kb-public', 'data-testid': 'kb-suggestion-public', text: article.public_body || ''}),
    internal);
  return node('li', {'data-testid': 'kb-suggestion', 'data-article-id': article.id}, details, insert);
}

function cannedPicker(reply) {
  const select = node('select', {'data-testid': 'kb-canned-select', 'aria-label': 'Canned reply'},
    node('option', {value: '', text: 'Canned reply…'}),
    ...(canned || []).map((c) => node('option', {value: c.id, text: c.title})));
  const insert = node('button', {type: 'button', 'data-testid': 'kb-canned-insert', text: 'Insert'});
  insert.addEventListener('click', () => {
    const chosen = (canned || []).find((c) => c.id === select.value);
    if (chosen) insertIntoReply(reply(), chosen.text);
  });
  return node('div', {class: 'kb-canned'}, select, insert);
}

async function refresh(id, conversation) {
  const state = panels.get(id);
  if (!state) return;
  if (canned === null) {
    const replies = await get('/api/kb/canned-replies');  // once logged in; kept for the page
    if (replies) canned = replies.canned_replies;
  }
  const answer = await get(`/api/interactions/${encodeURIComponent(id)}/kb-suggestions`);
  const reply = () => conversation.querySelector('[data-testid=reply-input]');
  const list = node('ul', {class: 'kb-suggestions', 'data-testid': 'kb-suggestions'},
    ...((answer && answer.articles) || []).map((a) => articleItem(a, reply)));
  const parts = [node('h3', {text: 'Knowledge'}), list];
  if (!list.children.length) parts.push(node('p', {class: 'empty', text: 'No article fits yet.'}));
  if (canned && canned.length) parts.push(cannedPicker(reply));
  state.box.replaceChildren(...parts);
}

function attach(conversation) {
  const id = conversation.dataset.interactionId;
  if (!id || panels.has(id) || !conversation.querySelector('[data-testid=reply-input]')) return;
  const box = node('section', {class: 'kb-panel', 'data-testid': 'kb-panel', 'aria-label': 'Knowledge'});
  const compose = conversation.querySelector('.compose');
  (compose ? compose.parentNode : conversation).insertBefore(box, compose ? compose.nextSibling : null);
  const state = {box, timer: null};
  panels.set(id, state);
  refresh(id, conversation);
  // The customer's new messages may change what fits: ask again, not more often than REFRESH_MS.
  const messages = conversation.querySelector('[data-testid=messages]') || conversation;
  new MutationObserver(() => {
    if (state.timer) return;
    state.timer = setTimeout(() => {
      state.timer = null;
      if (document.contains(conversation)) refresh(id, conversation);
    }, REFRESH_MS);
  }).observe(messages, {childList: true, subtree: messages !== conversation});
}

function scan() {
  for (const [id, state] of panels) {
    if (!document.contains(state.box)) panels.delete(id);  // the conversation was closed or redrawn
  }
  for (const conversation of document.querySelectorAll('[data-testid=conversation][data-interaction-id]')) {
    attach(conversation);
  }
}

// Its look is a file of its own too (style-src 'self').
document.head.append(node('link', {rel: 'stylesheet', href: '/assets/desk_kb.css'}));
scan();
new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
