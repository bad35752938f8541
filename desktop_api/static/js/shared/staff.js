// What the admin page and the supervisor board share around their content: the log-in form,
// log-out (revoked on the server too) and the live socket on /ws/supervisor, reconnected with
// a growing, jittered delay. ``S`` is the page's state (token, ws, wanted, retry); ``views``
// the ids shown only while logged in; ``start`` runs after a log-in; ``onMessage`` gets each
// event; ``onLogout`` stops the page's own timers.

import {revoke} from './api.js';
import {$} from './dom.js';
import {ticketSocket} from './socket.js';

export function staffSession({S, tokenKey, views, api, start, onMessage, onLogout}) {
  function setConn(state, text) {
    $('conn-status').dataset.state = state;
    $('conn-status').textContent = text;
  }

  function connect() {
    if (!S.wanted || !S.token) return;
    const ws = ticketSocket('/ws/supervisor', () => S.token);
    S.ws = ws;
    ws.addEventListener('open', () => { S.retry = 0; setConn('connected', 'live'); });
    ws.addEventListener('message', (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (exc) { return; }
      onMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (S.ws !== ws || !S.wanted) return;
      S.ws = null;
      const delay = Math.min(30000, 1000 * 2 ** Math.min(S.retry++, 5)) * (0.6 + Math.random() * 0.4);
      setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
      setTimeout(connect, delay);
    });
  }

  function show(loggedIn) {
    for (const id of views) $(id).hidden = !loggedIn;
    $('login-view').hidden = loggedIn;
  }

  function logout(why) {
    S.wanted = false;
    revoke(S.token);
    S.token = null;
    sessionStorage.removeItem(tokenKey);
    if (S.ws) { S.ws.close(); S.ws = null; }
    if (onLogout) onLogout();
    show(false);
    $('login-error').textContent = why || '';
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      const body = await api('POST', '/api/login', {agent_id: $('login-agent').value.trim(),
                                                    password: $('login-password').value});
      S.token = body.token;
      sessionStorage.setItem(tokenKey, S.token);
      await start();
    } catch (err) { $('login-error').textContent = err.message || 'log-in failed'; }
  });
  $('logout').addEventListener('click', () => logout(''));
  return {connect, logout, show};
}
