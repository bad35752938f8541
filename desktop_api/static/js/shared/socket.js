// A WebSocket opened with a one-time ticket (POST /api/ws-ticket) instead of the token in the
// URL, where proxies and logs would keep it. It stands for the socket at once (the page adds its
// listeners as on a WebSocket) and forwards the real socket's events once the ticket is in.
// The server closes a socket when the token it was opened with expires (close code 4001): when
// the page refreshes its token, the socket sends it a ``renew`` with the fresh one, and the
// server's answer to that stays here.

import {current, keepFresh, onRenewed} from './api.js';

let renewSeq = 0;

// The socket protocol these pages speak (the hello's "protocol", docs/websocket.md).
export const PROTOCOL = 1;

// What to tell the user when the server speaks another version (it was updated under the page).
export function protocolProblem(hello) {
  if (hello.protocol === undefined || hello.protocol === PROTOCOL) return null;
  return {error_id: 'protocol-changed',
          message: `the server speaks version ${hello.protocol} of the desk protocol; reload the page`};
}

class TicketSocket extends EventTarget {
  constructor(path, getToken) {
    super();
    this.readyState = WebSocket.CONNECTING;
    this._ws = null;
    this._closing = false;
    this._stopRenewing = onRenewed((old, fresh) => this._renew(fresh));
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
      this._stopRenewing();
      if (!ticket) this.dispatchEvent(new Event('error'));
      this.dispatchEvent(new CloseEvent('close', {code: ticket ? 1000 : 1006, wasClean: false}));
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}${path}?ticket=${encodeURIComponent(ticket)}`);
    this._ws = ws;
    ws.addEventListener('open', () => { this.readyState = ws.readyState; this.dispatchEvent(new Event('open')); });
    ws.addEventListener('message', (e) => {
      if (typeof e.data === 'string' && e.data.includes('"renew-')) {
        try { if (String(JSON.parse(e.data).ref).startsWith('renew-')) return; } catch (exc) { /* page's */ }
      }
      this.dispatchEvent(new MessageEvent('message', {data: e.data}));
    });
    ws.addEventListener('error', () => { this.readyState = ws.readyState; this.dispatchEvent(new Event('error')); });
    ws.addEventListener('close', (e) => {
      this.readyState = WebSocket.CLOSED;
      this._stopRenewing();
      this.dispatchEvent(new CloseEvent('close', {code: e.code, reason: e.reason, wasClean: e.wasClean}));
    });
  }

  _renew(fresh) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) {
      this._ws.send(JSON.stringify({type: 'renew', ref: `renew-${++renewSeq}`, token: fresh}));
    }
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

export function ticketSocket(path, getToken) {
  return new TicketSocket(path, getToken);
}
