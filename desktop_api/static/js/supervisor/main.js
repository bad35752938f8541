// The supervisor board's entry point: the session (log-in, the socket, log-out) and the parts
// of the board. Each part subscribes to the board's bus (board.js) when it loads; a feature
// module goes in the import list below (see docs/frontend.md).
import {$} from '../shared/dom.js';
import {protocolProblem} from '../shared/socket.js';
import {staffSession} from '../shared/staff.js';
import {S, TOKEN_KEY, api, deliver, emit, on, setExpiredHandler, showError} from './board.js';
import {renderQueues, refreshQueues} from './queues.js';
import './agents.js';
import './events.js';
import './waiting.js';
import './chats.js';
import './wallboard_link.js';
import './campaigns.js';

const QUEUE_REFRESH_MS = 5000;

async function start() {
  try {
    S.me = await api('GET', '/api/me');
  } catch (err) { return; }
  if (S.me.role !== 'supervisor' && S.me.role !== 'admin') {
    logout('This page is for supervisors; agents use the agent desktop.');
    return;
  }
  try { S.voice = !!((await api('GET', '/api/voice')) || {}).configured; } catch (err) { S.voice = false; }
  $('who').textContent = S.me.name || S.me.id;
  session.show(true);
  S.wanted = true;
  session.connect();
  // One of each however often this tab logs in: log-out clears them (stopTimers).
  stopTimers();
  S.tick = setInterval(() => { renderQueues(); }, 1000);
  S.poller = setInterval(() => { if (S.wanted) refreshQueues(); }, QUEUE_REFRESH_MS);
  emit('board.login', S.me);
}

function stopTimers() {
  clearInterval(S.tick);
  clearInterval(S.poller);
  clearTimeout(S.refreshTimer);
  S.tick = S.poller = S.refreshTimer = null;
}

function handle(msg) {
  emit(msg.type, msg);
  if (msg.type !== 'hello' && msg.type !== 'lagged') emit('board.message', msg);
}

function onMessage(msg) {
  if (msg && typeof msg.type === 'string') deliver(msg, handle);
}

on('hello', (msg) => {
  const problem = protocolProblem(msg);
  if (problem) showError(problem);
});

const session = staffSession({
  S, tokenKey: TOKEN_KEY, views: ['who', 'conn-status', 'logout', 'board'], api, start, onMessage,
  onLogout: () => { stopTimers(); emit('board.logout'); },
});
const logout = session.logout;
setExpiredHandler(() => logout('Your session has expired; please log in again.'));
if (S.token) start();
