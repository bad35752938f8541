// The agent desk's core, the one module every feature module talks to:
//   session           who is logged in: {token, agentId, agent} (read it, do not assign it)
//   on(type, fn)      a socket message by its type ("interaction.offered", ...) or a desk event:
//                     "desk.login" (the agent), "desk.logout", "desk.connected", "desk.disconnected",
//                     "desk.item" (a work item was drawn: {item, mode}), "desk.item.removed" (item);
//                     returns a function that unsubscribes
//   send(type, fields, {label, onAck, onError, button})   a command on the socket, answered by
//                     its "ack" or "error" (matched by ref); false when not connected
//   api(method, path, body)   a REST call with the agent's token (typed ApiError on failure)
//   mount(region, node)       put a node into a named region of the page (data-region)
//   showError(err, context), notice(text)   what the agent is told
import {current, restClient} from '../shared/api.js';
import {createBus} from '../shared/bus.js';
import {$, el} from '../shared/dom.js';

export {mount, region} from '../shared/regions.js';

const TOKEN_KEY = 'cti.agent.token';
const AGENT_KEY = 'cti.agent.id';
const MAX_ERRORS = 5;
const NOTICE_MS = 8000;

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  agentId: sessionStorage.getItem(AGENT_KEY),
  agent: null,
};

// The socket: set by connection.js; commands waiting for their ack.
const link = {ws: null, refSeq: 0, pending: new Map()};  // ref -> {label, onAck, onError}

const bus = createBus((exc) => showError({error_id: 'client-error', message: String(exc && exc.message || exc)}));
export const on = bus.on;
export const emit = bus.emit;

export function currentToken() { return current(session.token); }

export function remember(token, agentId) {
  session.token = token;
  session.agentId = agentId;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(AGENT_KEY, agentId);
}

export function forget() {
  session.token = null; session.agentId = null; session.agent = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(AGENT_KEY);
}

// The log-out on 401 is the session module's: it registers itself here.
let onExpired = () => {};
export function setExpiredHandler(fn) { onExpired = fn; }
export const api = restClient(() => session.token, () => onExpired());

// ----- errors and notices ----------------------------------------------------------------

export function showError(err, context) {
  const box = $('errors');
  const errorId = (err && err.error_id) || 'error';
  const message = (err && err.message) || 'something went wrong';
  const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': errorId},
    el('code', {'data-testid': 'error-id', text: errorId}),
    el('span', {class: 'msg', 'data-testid': 'error-message',
                text: context ? `${context}: ${message}` : message}),
    el('button', {type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss', text: '×',
                  onclick: () => node.remove()}));
  box.prepend(node);
  while (box.children.length > MAX_ERRORS) box.lastElementChild.remove();
}

export function notice(text) {
  const node = el('div', {class: 'notice', 'data-testid': 'notice', text});
  $('notices').prepend(node);
  setTimeout(() => node.remove(), NOTICE_MS);
}

export function clearMessages() {
  $('errors').replaceChildren();
  $('notices').replaceChildren();
}

// ----- commands on the socket -------------------------------------------------------------

export function setSocket(ws) { link.ws = ws; }
export function socket() { return link.ws; }

export function send(type, fields, {label, onAck, onError, button} = {}) {
  const ws = link.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showError({error_id: 'not-connected', message: 'not connected to the server; retrying'}, label);
    return false;
  }
  const ref = `c${++link.refSeq}`;
  if (button) button.disabled = true;
  link.pending.set(ref, {
    label: label || type,
    onAck: (result) => { if (button) button.disabled = false; if (onAck) onAck(result); },
    onError: (err) => { if (button) button.disabled = false; if (onError) onError(err); },
  });
  ws.send(JSON.stringify({type, ref, ...fields}));
  return true;
}

export function failPending(err, show) {
  const pending = [...link.pending.values()];
  link.pending.clear();
  for (const p of pending) {
    if (show) showError(err, p.label);
    p.onError(err);
  }
}

on('ack', (msg) => {
  const pending = link.pending.get(msg.ref);
  if (!pending) return;
  link.pending.delete(msg.ref);
  pending.onAck(msg.result);
});

on('error', (msg) => {
  const pending = msg.ref != null ? link.pending.get(msg.ref) : undefined;
  if (pending) link.pending.delete(msg.ref);
  showError(msg, pending ? pending.label : undefined);
  if (pending) pending.onError(msg);
});

export function mine(msg) { return msg.agent_id === session.agentId; }
