// The desk's socket on /ws/agent: opened with a ticket, every message handed to the bus by its
// type, reconnected with a growing, jittered delay while the agent is logged in.
import {$} from '../shared/dom.js';
import {ticketSocket} from '../shared/socket.js';
import {api, emit, failPending, notice, on, session, setSocket, showError, socket} from './desk.js';
import {setAgent} from './state.js';

const C = {wanted: false, retry: 0, retryTimer: null};

function setConn(state, text) {
  const node = $('conn-status');
  node.dataset.state = state;
  node.textContent = text || state;
}

export function connect() {
  clearTimeout(C.retryTimer);
  if (!C.wanted || !session.token) return;
  const ws = ticketSocket('/ws/agent', () => session.token);
  let opened = false;
  setSocket(ws);
  setConn(C.retry ? 'reconnecting' : 'connecting', C.retry ? 'reconnecting…' : 'connecting…');
  ws.addEventListener('open', () => {
    opened = true;
    setConn('connected', 'connected');
    emit('desk.connected');
  });
  ws.addEventListener('message', (event) => {
    if (socket() !== ws) return;
    let msg;
    try { msg = JSON.parse(event.data); } catch (exc) {
      showError({error_id: 'bad-frame', message: 'the server sent something that is not JSON'});
      return;
    }
    if (msg && typeof msg.type === 'string') emit(msg.type, msg);
  });
  ws.addEventListener('close', () => {
    if (socket() !== ws) return;
    setSocket(null);
    failPending({error_id: 'disconnected', message: 'the connection dropped before an answer'}, true);
    emit('desk.disconnected');
    if (!C.wanted) { setConn('closed', 'disconnected'); return; }
    if (!opened) {
      // A refused handshake may be an expired token: /api/me tells (and logs out on 401).
      api('GET', '/api/me').then(setAgent).catch(() => {});
    }
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (!C.wanted) return;
  const base = Math.min(30000, 1000 * 2 ** Math.min(C.retry, 5));
  const delay = Math.round(base * (0.6 + Math.random() * 0.4));
  C.retry += 1;
  setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
  C.retryTimer = setTimeout(connect, delay);
}

export function start() {
  C.wanted = true;
  C.retry = 0;
  connect();
}

export function stop() {
  C.wanted = false;
  clearTimeout(C.retryTimer);
  const ws = socket();
  if (ws) { setSocket(null); ws.close(1000, 'log out'); }
}

on('hello', () => { C.retry = 0; });

on('lagged', () => {
  notice('Some events were missed; reloading your work.');
  const ws = socket();
  if (ws) ws.close(4000, 'resync');  // the close handler reconnects; the next hello resyncs
});

window.addEventListener('online', () => { if (C.wanted && !socket()) { C.retry = 0; connect(); } });
