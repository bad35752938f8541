// A WebSocket opened with a one-time ticket (POST /api/ws-ticket) instead of the token in the
// URL, where proxies and logs would keep it. It stands for the socket at once (the page adds its
// listeners as on a WebSocket) and forwards the real socket's events once the ticket is in.

import {current, keepFresh} from './api.js';

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

export function ticketSocket(path, getToken) {
  return new TicketSocket(path, getToken);
}
