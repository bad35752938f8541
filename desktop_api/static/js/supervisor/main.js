// The supervisor board's entry point: the session (log-in, the socket, log-out) and the parts
// of the board. Each part subscribes to the board's bus (board.js) when it loads; a feature
// module goes in the import list below (see docs/frontend.md).
import {$} from '../shared/dom.js';
import {staffSession} from '../shared/staff.js';
import {S, TOKEN_KEY, api, emit, setExpiredHandler} from './board.js';
import {renderQueues, refreshQueues} from './queues.js';
import './agents.js';
import './events.js';

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
  S.tick = setInterval(() => { renderQueues(); }, 1000);
  setInterval(() => { if (S.wanted) refreshQueues(); }, QUEUE_REFRESH_MS);
  emit('board.login', S.me);
}

function onMessage(msg) {
  if (!msg || typeof msg.type !== 'string') return;
  emit(msg.type, msg);
  if (msg.type !== 'hello' && msg.type !== 'lagged') emit('board.message', msg);
}

const session = staffSession({
  S, tokenKey: TOKEN_KEY, views: ['who', 'conn-status', 'logout', 'board'], api, start, onMessage,
  onLogout: () => { clearInterval(S.tick); emit('board.logout'); },
});
const logout = session.logout;
setExpiredHandler(() => logout('Your session has expired; please log in again.'));
if (S.token) start();
