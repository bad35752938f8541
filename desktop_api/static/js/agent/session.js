// Log-in, log-out and the start of the page (a reload keeps the session in sessionStorage).
import {revoke} from '../shared/api.js';
import {$} from '../shared/dom.js';
import {api, clearMessages, emit, failPending, forget, remember, session,
        setExpiredHandler} from './desk.js';
import * as connection from './connection.js';
import {updateEmpty} from './items.js';

const LOGGED_IN_VIEWS = ['desk', 'who', 'state-form', 'conn-status', 'logout'];

async function onLogin(event) {
  event.preventDefault();
  const agentId = $('login-agent').value.trim();
  const password = $('login-password').value;
  $('login-error').textContent = '';
  $('login-submit').disabled = true;
  try {
    const data = await api('POST', '/api/login', {agent_id: agentId, password});
    remember(data.token, data.agent.id);
    $('login-password').value = '';
    enterDesk(data.agent);
  } catch (exc) {
    $('login-error').textContent = exc.error_id === 'bad-credentials'
      ? 'Unknown agent or wrong password.' : `${exc.error_id}: ${exc.message}`;
  } finally {
    $('login-submit').disabled = false;
  }
}

function enterDesk(agent) {
  $('login-view').hidden = true;
  for (const id of LOGGED_IN_VIEWS) $(id).hidden = false;
  clearMessages();
  emit('desk.login', agent);
  connection.start();
}

export function logout(message) {
  connection.stop();
  failPending({error_id: 'disconnected', message: 'logged out'}, false);
  revoke(session.token);
  forget();
  emit('desk.logout');
  clearMessages();
  for (const id of LOGGED_IN_VIEWS) $(id).hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  $('login-agent').focus();
}

setExpiredHandler(() => logout('Your session has expired; please log in again.'));
$('login-form').addEventListener('submit', onLogin);
$('logout').addEventListener('click', () => logout(''));

export async function boot() {
  updateEmpty();
  if (!session.token || !session.agentId) { $('login-agent').focus(); return; }
  try {
    enterDesk(await api('GET', '/api/me'));
  } catch (exc) {
    if (exc.status !== 401) {
      // The server is unreachable: keep the token and let the socket retry.
      enterDesk({id: session.agentId, name: session.agentId, state: 'offline', reason: null});
    }
  }
}
