// My teams' live chats: open one's transcript as it happens, whisper to the agent (a note only
// the agent sees, never the customer), barge in (the customer is told "<name> joined the chat")
// and write to the customer, leave again (the customer is told "<name> left the chat"), or reassign the chat to another agent or queue. Every action is
// checked and audited by the server; this module only asks.
import {coalesced} from '../shared/coalesce.js';
import {el} from '../shared/dom.js';
import {fmtTime} from '../shared/format.js';
import {S, addEvent, api, mount, on, showError} from './board.js';

const CHANGES = new Set(['interaction.accepted', 'interaction.closed', 'interaction.wrap_up',
  'interaction.transferred', 'interaction.abandoned']);
const MAX_LINES = 500;  // of an open transcript: the oldest go first
const GATHER_MS = 250;

const list = el('ul', {class: 'chat-list', 'data-testid': 'live-chats'});
const none = el('p', {class: 'muted', text: 'No live chat in your teams.'});
const transcript = el('ol', {class: 'transcript', 'data-testid': 'transcript', 'aria-live': 'polite',
                             'aria-label': 'transcript'});
const title = el('h3', {id: 'watch-title', 'data-testid': 'watch-title'});
const wide = 'flex:1;min-width:16rem';
const whisperText = el('input', {'data-testid': 'whisper-text', 'aria-label': 'whisper to the agent', style: wide,
                                 placeholder: 'Whisper to the agent (the customer never sees it)'});
const sayText = el('input', {'data-testid': 'barge-text', 'aria-label': 'write to the customer', style: wide,
                             placeholder: 'Write to the customer', disabled: true});
const bargeButton = el('button', {type: 'button', 'data-testid': 'barge', text: 'Join the chat (barge)'});
const sayButton = el('button', {type: 'button', 'data-testid': 'barge-send', text: 'Send', disabled: true});
const leaveButton = el('button', {type: 'button', 'data-testid': 'barge-leave', text: 'Leave the chat',
                                  disabled: true});
const whisperButton = el('button', {type: 'button', 'data-testid': 'whisper', text: 'Whisper'});
const moveTo = el('select', {'data-testid': 'reassign-target', 'aria-label': 'reassign the chat to'});
const moveButton = el('button', {type: 'button', 'data-testid': 'reassign', text: 'Reassign'});
const watchPane = el('div', {class: 'watch', 'data-testid': 'watch', hidden: true, 'aria-labelledby': 'watch-title'},
  title, transcript,
  el('div', {class: 'controls'}, whisperText, whisperButton),
  el('div', {class: 'controls'}, bargeButton, sayText, sayButton, leaveButton),
  el('div', {class: 'controls'}, moveTo, moveButton));

mount('board-top', el('section', {class: 'card', 'aria-labelledby': 'chats-title', 'data-testid': 'chats'},
  el('h2', {id: 'chats-title', text: 'Live chats'}), list, none, watchPane));

const C = {chats: [], watching: null, barged: new Set(), seen: new Set()};

function line(kind, who, body, at, id) {
  if (id) {
    if (C.seen.has(id)) return;
    C.seen.add(id);
  }
  // Internal lines (whispers, notes) stand out: the customer never sees them.
  const style = kind === 'internal' ? 'background:#fff4d6;font-style:italic' : undefined;
  transcript.append(el('li', {'data-testid': 'transcript-line', 'data-kind': kind, style},
    el('span', {class: 'meta', text: `${who} · ${fmtTime(at)}`}), ' ', el('span', {text: body})));
  while (transcript.children.length > MAX_LINES) transcript.firstElementChild.remove();
  transcript.scrollTop = transcript.scrollHeight;
}

function messageLine(m) {
  const who = m.sender === 'customer' ? 'customer'
    : m.sender === 'system' ? 'system' : (S.agents.get(m.agent_id) || {}).name || m.agent_id || 'agent';
  line(m.sender, who, m.body, m.at, m.id);
}

function noteLine(n) {
  const who = (S.agents.get(n.author_id) || {}).name || n.author_id;
  line('internal', `${who} (internal)`, n.body, n.at, n.id);
}

function joinedControls(joined) {
  sayText.disabled = !joined; sayButton.disabled = !joined; leaveButton.disabled = !joined;
  bargeButton.disabled = joined;
}

async function watch(chat) {
  C.watching = chat.id;
  C.seen = new Set();
  transcript.replaceChildren();
  title.textContent = `Chat with ${chat.agent_id} · ${chat.queue}`;
  watchPane.hidden = false;
  const joined = C.barged.has(chat.id);
  joinedControls(joined);
  moveTo.replaceChildren(
    el('optgroup', {label: 'agent'}, [...S.agents.values()].filter((a) => a.id !== chat.agent_id)
      .map((a) => el('option', {value: `agent:${a.id}`, text: `${a.name || a.id} (${a.state})`}))),
    el('optgroup', {label: 'queue'}, Object.keys((S.stats && S.stats.queues_configured) || {})
      .map((q) => el('option', {value: `queue:${q}`, text: `queue ${q}`}))));
  try {
    const full = await api('GET', `/api/interactions/${encodeURIComponent(chat.id)}`);
    if (C.watching !== chat.id) return;  // another chat was opened meanwhile
    const entries = [...full.messages.map((m) => ['m', m]), ...full.notes.map((n) => ['n', n])]
      .sort((a, b) => a[1].at - b[1].at);
    for (const [kind, item] of entries) (kind === 'm' ? messageLine : noteLine)(item);
  } catch (err) { showError(err, 'open the chat'); }
}

function drawList() {
  list.replaceChildren(...C.chats.map((chat) => el('li', {'data-testid': 'live-chat', 'data-interaction': chat.id},
    el('button', {type: 'button', 'data-testid': 'watch-chat', onclick: () => watch(chat),
      'aria-pressed': String(C.watching === chat.id),
      text: `${chat.agent_id} · ${chat.queue} · since ${fmtTime(chat.answered_at || chat.arrived_at)}`}))));
  none.hidden = C.chats.length > 0;
}

async function refresh() {
  if (!S.wanted) return;
  try {
    const open = await api('GET', '/api/interactions?state=active&limit=200');
    C.chats = (open || []).filter((i) => i.channel === 'chat');
    drawList();
    if (C.watching && !C.chats.some((c) => c.id === C.watching)) {
      line('system', 'board', 'the chat is no longer live', Date.now() / 1000);
      C.watching = null;
    }
  } catch (err) {
    if (err.status !== 401) showError(err, 'live chats');
  }
}

const refreshSoon = coalesced(refresh, GATHER_MS);

async function act(button, what, path, body, done) {
  if (!C.watching) return;
  button.disabled = true;
  let result;
  try {
    result = await api('POST', `/api/interactions/${encodeURIComponent(C.watching)}/${path}`, body);
  } catch (err) {
    showError(err, what);
    button.disabled = false;
    return;
  }
  button.disabled = false;  // before ``done``, which may keep it disabled (a chat already joined)
  addEvent(what);
  if (done) done(result);
}

whisperButton.addEventListener('click', () => {
  const body = whisperText.value.trim();
  if (!body) return;
  act(whisperButton, 'whispered to the agent', 'whisper', {body}, (note) => { whisperText.value = ''; noteLine(note); });
});
bargeButton.addEventListener('click', () => {
  act(bargeButton, 'joined the chat', 'barge', undefined, (result) => {
    C.barged.add(result.interaction_id);
    if (result.announcement) messageLine(result.announcement);
    joinedControls(true);
    sayText.focus();
  });
});
leaveButton.addEventListener('click', () => {
  act(leaveButton, 'left the chat', 'barge/leave', undefined, (result) => {
    C.barged.delete(result.interaction_id);
    messageLine(result.announcement);
    joinedControls(false);
    bargeButton.focus();
  });
});
sayButton.addEventListener('click', () => {
  const body = sayText.value.trim();
  if (!body) return;
  act(sayButton, 'wrote to the customer', 'barge/messages', {body}, (m) => { sayText.value = ''; messageLine(m); });
});
moveButton.addEventListener('click', () => {
  const [kind, id] = moveTo.value.split(/:(.*)/s);
  if (!id) return;
  act(moveButton, `chat reassigned to ${kind} ${id}`, 'reassign', kind === 'queue' ? {queue: id} : {agent_id: id},
    () => refreshSoon());
});

on('message.added', (msg) => { if (msg.interaction_id === C.watching) messageLine(msg.message); });
on('supervision.whisper', (msg) => { if (msg.interaction_id === C.watching) noteLine(msg.note); });
on('board.message', (msg) => { if (CHANGES.has(msg.type)) refreshSoon(); });
on('board.login', () => { C.barged = new Set(); refreshSoon(); });
on('board.logout', () => {
  refreshSoon.cancel();
  C.chats = []; C.watching = null; watchPane.hidden = true; transcript.replaceChildren(); drawList();
});
