// What the agent desktop, the supervisor board and the admin page share: building elements (text only ever as
// text, never as HTML), durations for people, and REST calls that fail with typed errors.
window.Desk = (() => {
  'use strict';

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on') && typeof value === 'function') {
        node.addEventListener(key.slice(2), value);
      } else if (key === 'value') node.value = value;
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fmtSeconds(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '';
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.error_id = (body && body.error_id) || `http-${status}`;
      this.details = (body && body.details) || {};
    }
  }

  // Tokens live 8 hours: a page refreshes its token before it expires. The page keeps the token
  // it logged in with; ``current`` maps it to the newest one (and the page's sessionStorage
  // entry is replaced, so a reload keeps the session).
  const renewed = new Map();
  let renewTimer = null;

  function current(token) {
    let seen = token;
    while (seen && renewed.has(seen)) seen = renewed.get(seen);
    return seen;
  }

  function expiresAt(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part)).exp * 1000;
    } catch (exc) { return 0; }
  }

  function keepFresh(getToken) {
    const token = current(getToken());
    if (!token || renewTimer !== null) return;
    // Ten minutes before expiry (soon if that has passed; never more often than every 5 s).
    const wait = Math.max(5_000, expiresAt(token) - Date.now() - 600_000);
    renewTimer = setTimeout(async () => {
      renewTimer = null;
      const old = current(getToken());
      if (!old) return;
      try {
        const resp = await fetch('/api/token/refresh', {method: 'POST', headers: {
          'Authorization': `Bearer ${old}`, 'Accept': 'application/json'}});
        if (!resp.ok) return;  // the next call's 401 logs the page out
        const fresh = (await resp.json()).token;
        renewed.set(old, fresh);
        for (let i = 0; i < sessionStorage.length; i++) {
          const key = sessionStorage.key(i);
          if (sessionStorage.getItem(key) === old) sessionStorage.setItem(key, fresh);
        }
      } catch (exc) { /* offline: the next attempt is scheduled below */ }
      keepFresh(getToken);
    }, wait);
  }

  // A WebSocket opened with a one-time ticket (POST /api/ws-ticket) instead of the token in the
  // URL, where proxies and logs would keep it. It stands for the socket at once (the page adds its
  // listeners as on a WebSocket) and forwards the real socket's events once the ticket is in.
  class TicketSocket extends EventTarget {
    constructor(path, getToken) {
      super();
      this.readyState = WebSocket.CONNECTING;
      this._ws = null;
      this._closing = false;
      keepFresh(getToken);
      this._open(path, current(getToken()));
    }

    async _open(path, token) {
      let ticket = null;
      try {
        const resp = await fetch('/api/ws-ticket', {method: 'POST', headers: {
          'Authorization': `Bearer ${token}`, 'Accept': 'application/json'}});
        if (resp.ok) ticket = (await resp.json()).ticket;
      } catch (exc) { ticket = null; }
      if (!ticket || this._closing) {
        this.readyState = WebSocket.CLOSED;
        if (!ticket) this.dispatchEvent(new Event('error'));
        this.dispatchEvent(new CloseEvent('close', {code: ticket ? 1000 : 1006, wasClean: false}));
        return;
      }
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${scheme}://${location.host}${path}?ticket=${encodeURIComponent(ticket)}`);
      this._ws = ws;
      ws.addEventListener('open', () => { this.readyState = ws.readyState; this.dispatchEvent(new Event('open')); });
      ws.addEventListener('message', (e) => this.dispatchEvent(new MessageEvent('message', {data: e.data})));
      ws.addEventListener('error', () => { this.readyState = ws.readyState; this.dispatchEvent(new Event('error')); });
      ws.addEventListener('close', (e) => {
        this.readyState = WebSocket.CLOSED;
        this.dispatchEvent(new CloseEvent('close', {code: e.code, reason: e.reason, wasClean: e.wasClean}));
      });
    }

    send(data) {
      if (!this._ws) throw new DOMException('the socket is not open yet', 'InvalidStateError');
      this._ws.send(data);
    }

    close(code, reason) {
      this._closing = true;
      if (this._ws) this._ws.close(code, reason);
    }
  }

  function ticketSocket(path, getToken) {
    return new TicketSocket(path, getToken);
  }

  // A REST caller with the page's token; ``onExpired`` runs when the server no longer takes it.
  function restClient(getToken, onExpired) {
    return async function api(method, path, body, extraHeaders) {
      const token = current(getToken());
      if (token && path !== '/api/login') keepFresh(getToken);
      const headers = {'Accept': 'application/json', ...(extraHeaders || {})};
      if (token) headers['Authorization'] = `Bearer ${token}`;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      let resp;
      try {
        resp = await fetch(path, {method, headers,
                                  body: body === undefined ? undefined : JSON.stringify(body)});
      } catch (exc) {
        throw new ApiError(0, {error_id: 'network-error', message: 'the server cannot be reached'});
      }
      let data = null;
      if ((resp.headers.get('Content-Type') || '').includes('application/json')) {
        try { data = await resp.json(); } catch (exc) { data = null; }
      }
      if (!resp.ok) {
        const error = new ApiError(resp.status, data);
        if (resp.status === 401 && token && path !== '/api/login') onExpired();
        throw error;
      }
      return data;
    };
  }

  // Log out on the server too: the token is revoked there, so a copy of it (a shared machine's
  // memory, a proxy log) is worthless from now on. Fire and forget: the page logs out either way.
  function revoke(token) {
    const latest = current(token);
    if (!latest) return;
    fetch('/api/logout', {method: 'POST', keepalive: true,
                          headers: {'Authorization': `Bearer ${latest}`, 'Accept': 'application/json'}})
      .catch(() => {});
  }

  // What the admin page and the supervisor board share around their content: the log-in form,
  // log-out (revoked on the server too) and the live socket on /ws/supervisor, reconnected with
  // a growing, jittered delay. ``S`` is the page's state (token, ws, wanted, retry); ``views``
  // the ids shown only while logged in; ``start`` runs after a log-in; ``onMessage`` gets each
  // event; ``onLogout`` stops the page's own timers.
  function staffSession({S, tokenKey, views, api, start, onMessage, onLogout}) {
    const $ = (id) => document.getElementById(id);

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

  return {el, fmtSeconds, ApiError, restClient, ticketSocket, current, revoke, staffSession};
})();
