// The chat widget: a visitor's side of /ws/chat (an ES module, served as a file so that the page
// runs under a Content-Security-Policy of script-src 'self'; no inline script or handlers).
import {onWaitingFrame} from './waiting.js';
import {suggestBeforeAgent} from './chat_kb.js';

// The visitor's session: its id and the secret only this browser holds (the server keeps a hash).
// Without the secret a reconnect is a new visitor, so both are kept together.
import {offerSurvey} from './survey.js';

const VISITOR_KEY = 'cti.chat.visitor_id';
const SECRET_KEY = 'cti.chat.session_secret';
// This tab's details (what the visitor typed, what the embedding site signed) for reconnects.
const DETAILS_KEY = 'cti.chat.details';
const SIGNED_KEY = 'cti.chat.signed';
const MAX_ERRORS = 3;

const C = {
  ws: null,
  wanted: false,        // keep a socket open (and reconnect when it drops)
  welcomed: false,      // the current socket got its welcome
  probing: false,       // a returning visitor's first look: is a conversation open?
  details: readJson(sessionStorage, DETAILS_KEY),  // name, email, phone given in the pre-chat form
  signed: signedIdentity(),  // site, identifier, identifier_hash from the embedding site
  claims: [],           // details the server can send a code to ("email", "phone")
  conversation: false,  // a conversation is open (codes belong to one)
  verified: new Set(),
  retry: 0,
  retryTimer: null,
  seen: new Set(),      // message ids already shown
  lastSent: null,
};

function $(id) { return document.getElementById(id); }

function readJson(storage, key) {
  try { return JSON.parse(storage.getItem(key) || '{}') || {}; } catch (exc) { return {}; }
}

// A website that embeds the widget signs its logged-in user: /chat#site=…&identifier=…&identifier_hash=…
// The fragment never reaches a server; it is kept for this tab and taken out of the address.
function signedIdentity() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has('identifier')) {
    const signed = {};
    for (const key of ['site', 'identifier', 'identifier_hash']) {
      if (params.get(key)) signed[key] = params.get(key);
    }
    sessionStorage.setItem(SIGNED_KEY, JSON.stringify(signed));
    history.replaceState(null, '', location.pathname + location.search);
    return signed;
  }
  return readJson(sessionStorage, SIGNED_KEY);
}

function forgetSession() {
  localStorage.removeItem(VISITOR_KEY);
  localStorage.removeItem(SECRET_KEY);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmtTime(at) {
  return typeof at === 'number'
    ? new Date(at * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}) : '';
}

function show(pane) {
  for (const id of ['prechat-pane', 'chat-pane', 'chat-ended']) $(id).hidden = id !== pane;
}

function setConn(state, text) {
  $('chat-conn').dataset.state = state;
  $('chat-conn').textContent = text;
}

function setStatus(state, text) {
  $('chat-status').dataset.state = state;
  $('chat-status').textContent = text;
}

function showError(err) {
  const box = $('chat-errors');
  const node = el('div', {class: 'error', 'data-testid': 'chat-error', 'data-error-id': err.error_id || 'error'},
    el('code', {text: err.error_id || 'error'}),
    el('span', {class: 'msg', text: err.message || 'something went wrong'}),
    el('button', {type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss', text: '×'}));
  node.querySelector('button').addEventListener('click', () => node.remove());
  box.prepend(node);
  while (box.children.length > MAX_ERRORS) box.lastElementChild.remove();
}

function canSend() {
  return !!C.ws && C.ws.readyState === WebSocket.OPEN && C.welcomed;
}

function syncSend() { $('chat-send').disabled = !canSend(); }

// ----- the socket ----------------------------------------------------------------------

function connect() {
  clearTimeout(C.retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  C.ws = ws;
  C.welcomed = false;
  syncSend();
  setConn('connecting', C.retry ? 'reconnecting…' : 'connecting…');
  ws.addEventListener('open', () => {
    if (C.ws !== ws) return;
    setConn('connected', 'online');
    sendHello();
  });
  ws.addEventListener('message', (event) => {
    if (C.ws !== ws) return;
    let msg;
    try { msg = JSON.parse(event.data); } catch (exc) { return; }
    handle(msg);
  });
  ws.addEventListener('close', () => {
    if (C.ws !== ws) return;
    C.ws = null;
    C.welcomed = false;
    syncSend();
    setConn('closed', 'offline');
    if (C.probing) {
      // The server could not be asked about an open conversation: offer the form instead.
      C.probing = false;
      C.wanted = false;
      show('prechat-pane');
    }
    if (!C.wanted) return;
    const base = Math.min(30000, 1000 * 2 ** Math.min(C.retry, 5));
    const delay = Math.round(base * (0.6 + Math.random() * 0.4));
    C.retry += 1;
    setConn('closed', `reconnecting in ${Math.ceil(delay / 1000)} s`);
    C.retryTimer = setTimeout(connect, delay);
  });
}

function sendHello() {
  // The server refuses a page address over 4096 characters; it keeps 500.
  const hello = {type: 'hello', page: (document.referrer || location.href).slice(0, 2000)};
  const visitorId = localStorage.getItem(VISITOR_KEY);
  const secret = localStorage.getItem(SECRET_KEY);
  if (visitorId && secret) {
    hello.visitor_id = visitorId;
    hello.session_secret = secret;
  }
  for (const key of ['name', 'email', 'phone']) if (C.details[key]) hello[key] = C.details[key];
  Object.assign(hello, C.signed);
  C.ws.send(JSON.stringify(hello));
}

function sendFrame(frame) {
  C.lastSent = null;  // an error now answers this frame, not the last message: nothing to put back
  if (canSend()) C.ws.send(JSON.stringify(frame));
  else showError({error_id: 'not-connected', message: 'not connected; please try again'});
}

function handle(msg) {
  onWaitingFrame(msg, sendFrame);  // position, estimate, callback (waiting.js)
  typingSeen(msg);
  if (msg.type === 'welcome') onWelcome(msg);
  else if (msg.type === 'message') addMessage(msg);
  else if (msg.type === 'status') onStatus(msg);
  else if (msg.type === 'code_sent') onCodeSent(msg);
  else if (msg.type === 'verified') onVerified(msg);
  else if (msg.type === 'error') onError(msg);
}

function onWelcome(msg) {
  C.welcomed = true;
  C.retry = 0;
  if (msg.session_secret) {
    // A new visitor: this browser's own secret, given once.
    localStorage.setItem(VISITOR_KEY, msg.visitor_id);
    localStorage.setItem(SECRET_KEY, msg.session_secret);
  }
  C.claims = msg.claims || [];
  C.conversation = !!msg.interaction_id;
  if (C.probing) {
    C.probing = false;
    if (!msg.interaction_id) {
      // Nothing to continue: ask for details first (a new hello carries them).
      C.wanted = false;
      const ws = C.ws;
      C.ws = null;
      ws.close(1000, 'pre-chat');
      setConn('closed', '');
      show('prechat-pane');
      $('chat-name').focus();
      return;
    }
  }
  show('chat-pane');
  for (const m of msg.messages || []) addMessage(m);
  syncVerify();
  if (msg.open === false && !msg.interaction_id) {
    // Outside the business hours: nobody answers live, but a message is kept for the next agent.
    setStatus('after_hours', 'We are closed, leave a message: we will get back to you.');
  } else if ($('chat-status').dataset.state === '') {
    setStatus('connected', msg.interaction_id
      ? 'Welcome back: your conversation continues.'
      : 'How can we help? Type your message below.');
  }
  syncSend();
  $('chat-input').focus();
}

function senderLabel(m) {
  if (m.sender === 'customer') return 'You';
  if (m.sender === 'system') return '';
  return m.agent_name || 'Agent';
}

function addMessage(m) {
  if (!m || !m.id || C.seen.has(m.id)) return;
  C.seen.add(m.id);
  if (m.sender === 'customer' && !C.conversation) {
    C.conversation = true;  // the first message opened a conversation: codes can be asked for
    syncVerify();
  }
  const list = $('chat-messages');
  const label = senderLabel(m);
  const node = el('li', {'data-testid': 'chat-message', 'data-sender': m.sender, 'data-message-id': m.id,
                         'data-at': m.at},
    el('span', {class: 'meta', text: label ? `${label} · ${fmtTime(m.at)}` : fmtTime(m.at)}),
    el('span', {class: 'body', 'data-testid': 'chat-message-body', text: m.body}));
  // Keep time order even when a reconnect's welcome brings older messages late.
  const after = [...list.children].find((li) => Number(li.dataset.at) > Number(m.at));
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.insertBefore(node, after || null);
  if (atBottom || m.sender === 'customer') list.scrollTop = list.scrollHeight;
}

function onStatus(msg) {
  if (msg.state === 'message_left') C.left = true;
  // A left message waits for the next agent: "waiting for an agent" would promise a live answer.
  if (C.left && msg.state === 'queued') return;
  const agent = msg.agent_name || 'An agent';
  const texts = {
    queued: 'Waiting for an agent…',
    agent_joined: `${agent} joined the chat.`,
    transferred: 'You are being transferred to another agent…',
    closed: 'The chat was closed. Send a message to start a new conversation.',
    message_left: 'Thank you: your message is with us and we will get back to you.',
  };
  setStatus(msg.state, texts[msg.state] || String(msg.state));
  if (msg.state === 'closed') {
    C.conversation = false;
    syncVerify();
    if (msg.survey_token) offerSurvey(msg.survey_token);
  }
}

// ----- one-time codes: prove the e-mail address or phone typed in the form ------------------

const CLAIM_NAMES = {email: 'e-mail', phone: 'phone'};

function syncVerify() {
  const open = C.claims.filter((kind) => !C.verified.has(kind));
  $('chat-verify').hidden = !C.conversation || (open.length === 0 && C.verified.size === 0);
  $('chat-verify-ask').hidden = open.length === 0;
  for (const kind of Object.keys(CLAIM_NAMES)) $(`chat-verify-${kind}`).hidden = !open.includes(kind);
  if (open.length === 0) $('chat-code-form').hidden = true;
}

function askCode(kind) {
  if (!canSend()) {
    showError({error_id: 'not-connected', message: 'not connected; no code was sent'});
    return;
  }
  C.ws.send(JSON.stringify({type: 'send_code', to: kind}));
}

function onCodeSent(msg) {
  const form = $('chat-code-form');
  form.hidden = false;
  $('chat-code-label').textContent = `Code we sent to your ${CLAIM_NAMES[msg.to] || msg.to}`;
  $('chat-code').value = '';
  $('chat-code').focus();
}

function sendCode(event) {
  event.preventDefault();
  const code = $('chat-code').value.trim();
  if (!code) return;
  if (!canSend()) {
    showError({error_id: 'not-connected', message: 'not connected; the code was not sent'});
    return;
  }
  C.ws.send(JSON.stringify({type: 'verify_code', code}));
}

function onVerified(msg) {
  for (const kind of msg.kinds || []) C.verified.add(kind);
  const names = (msg.kinds || []).map((kind) => CLAIM_NAMES[kind] || kind).join(' and ');
  $('chat-verified').hidden = false;
  $('chat-verified').textContent = names ? `Thank you: your ${names} is verified.` : 'Thank you: verified.';
  $('chat-code-form').hidden = true;
  syncVerify();
}

function onError(msg) {
  showError(msg);
  const field = (msg.details || {}).field;
  if (!C.welcomed && (field === 'visitor_id' || field === 'session_secret')) forgetSession();
  if (!C.welcomed) {
    // The hello was refused (e.g. an e-mail address that is not one): fix the form, try again.
    C.probing = false;
    show('prechat-pane');
  } else if (C.lastSent !== null && !$('chat-input').value) {
    $('chat-input').value = C.lastSent;
  }
  C.lastSent = null;
}

// ----- actions -------------------------------------------------------------------------

function start(event) {
  event.preventDefault();
  C.details = {};
  for (const key of ['name', 'email', 'phone']) {
    const value = $(`chat-${key}`).value.trim();
    if (value) C.details[key] = value;
  }
  sessionStorage.setItem(DETAILS_KEY, JSON.stringify(C.details));
  C.wanted = true;
  C.retry = 0;
  if (C.probing && C.ws) {
    // Still asking whether a conversation is open: start over with the details.
    C.probing = false;
    const probe = C.ws;
    C.ws = null;
    probe.close(1000, 'pre-chat');
  }
  if (C.ws && C.ws.readyState === WebSocket.OPEN && !C.welcomed) {
    sendHello();  // the last hello was refused; this socket still waits for one
  } else if (!C.ws) {
    connect();
  }
}

function sendMessage(event) {
  if (event) event.preventDefault();
  const input = $('chat-input');
  const body = input.value;
  if (!body.trim()) return;
  if (!canSend()) {
    showError({error_id: 'not-connected', message: 'not connected; your message was not sent'});
    return;
  }
  input.value = '';  // the server's echo shows the message
  input.focus();
  // The first message of a conversation: help articles first (chat_kb.js), an agent after.
  if (!C.conversation) suggestBeforeAgent(body, sendBody);
  else sendBody(body);
}

function sendBody(body) {
  if (!canSend()) {
    $('chat-input').value = body;
    showError({error_id: 'not-connected', message: 'not connected; your message was not sent'});
    return;
  }
  C.lastSent = body;
  C.ws.send(JSON.stringify({type: 'message', body}));
}

function leave() {
  C.wanted = false;
  clearTimeout(C.retryTimer);
  if (C.ws && C.ws.readyState === WebSocket.OPEN) {
    C.ws.send(JSON.stringify({type: 'leave'}));  // the server closes the socket
  }
  C.ws = null;
  C.welcomed = false;
  syncSend();
  setConn('closed', '');
  show('chat-ended');
}

function restart() {
  $('chat-messages').replaceChildren();
  C.seen.clear();
  C.conversation = false;
  C.verified.clear();
  $('chat-verified').hidden = true;
  syncVerify();
  setStatus('', '');
  $('chat-errors').replaceChildren();
  show('prechat-pane');
  $('chat-name').focus();
}

// ----- typing indicators (both ways; the server drops more than one per 2 s per side) ----------

const TYPING_GAP_MS = 2000;
const TYPING_SHOWN_MS = 5000;
const typing = {lastSent: 0, timer: null, node: null};

function typingNode() {
  if (!typing.node) {
    typing.node = el('p', {id: 'chat-typing', class: 'typing', 'data-testid': 'chat-typing', role: 'status',
                           hidden: ''});
    $('chat-messages').after(typing.node);
  }
  return typing.node;
}

// The agent's signal shows "… is typing" for a few seconds, or until their message arrives.
function typingSeen(msg) {
  const node = typingNode();
  if (msg.type === 'typing' && msg.who === 'agent') {
    node.textContent = `${msg.agent_name || 'The agent'} is typing…`;
    node.hidden = false;
    clearTimeout(typing.timer);
    typing.timer = setTimeout(() => { node.hidden = true; }, TYPING_SHOWN_MS);
  } else if (msg.type === 'message' && msg.sender === 'agent') {
    node.hidden = true;
  }
}

function visitorTyping() {
  const now = Date.now();
  if (!canSend() || !C.conversation || !$('chat-input').value.trim() || now - typing.lastSent < TYPING_GAP_MS) return;
  typing.lastSent = now;
  C.ws.send(JSON.stringify({type: 'typing'}));
}

$('chat-input').addEventListener('input', visitorTyping);
$('prechat').addEventListener('submit', start);
$('compose').addEventListener('submit', sendMessage);
$('chat-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) sendMessage(event);
});
$('chat-leave').addEventListener('click', leave);
$('chat-restart').addEventListener('click', restart);
$('chat-verify-email').addEventListener('click', () => askCode('email'));
$('chat-verify-phone').addEventListener('click', () => askCode('phone'));
$('chat-code-form').addEventListener('submit', sendCode);

if (localStorage.getItem(VISITOR_KEY) && localStorage.getItem(SECRET_KEY)) {
  // A returning visitor: continue an open conversation, or ask for details for a new one.
  C.probing = true;
  C.wanted = true;
  connect();
} else {
  show('prechat-pane');
}
