// The wallboard: asks GET /api/wallboard every few seconds (one timer, backing off on errors up
// to a minute, paused while the screen is hidden) and draws each queue's figures. Read-only.
// The token comes in the address's fragment (#token=…), which browsers never send to a server;
// it is kept in this tab's session storage so a reload keeps working, and taken off the address.

import {$, el} from '../shared/dom.js';

const POLL_MS = 3000;
const MAX_BACKOFF_MS = 60000;
const STORAGE_KEY = 'cti.wallboard.token';
const STATES = ['available', 'busy', 'wrap_up', 'away', 'offline'];
const CHANNEL_NAMES = {voice: 'Voice', chat: 'Chat', email: 'E-mail', sms: 'SMS', x: 'X', slack: 'Slack'};

function takeToken() {
  const fromAddress = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromAddress) {
    sessionStorage.setItem(STORAGE_KEY, fromAddress);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem(STORAGE_KEY);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? '—' : `${Math.round(ratio * 100)} %`;
}

function levelClass(row) {
  if (row.service_level === null || row.service_level === undefined) return null;
  if (row.service_level >= 0.8) return 'good';
  return row.service_level >= 0.6 ? 'warn' : 'bad';
}

function cell(field, text, extra = {}) {
  return el('td', {'data-field': field, ...extra, text});
}

function channelRow(row) {
  const level = levelClass(row);
  const levelCell = cell('service_level', percent(row.service_level), level ? {'data-level': level} : {});
  return el('tr', {'data-channel': row.channel},
    el('th', {scope: 'row', text: CHANNEL_NAMES[row.channel] || row.channel}),
    cell('waiting', String(row.waiting), {class: 'wb-big'}),
    cell('longest_wait', duration(row.longest_wait)),
    levelCell,
    cell('target', row.target === null || row.target === undefined ? '—' : duration(row.target)),
    cell('average_speed_of_answer', duration(row.average_speed_of_answer)),
    cell('abandon_rate', percent(row.abandon_rate)));
}

function queueSection(queue) {
  const head = el('tr', {}, ...['Channel', 'Waiting', 'Longest wait', 'Service level', 'Target',
    'Avg. speed of answer', 'Abandon rate'].map((name) => el('th', {scope: 'col', text: name})));
  const title = `wb-queue-${queue.queue}`;
  const agents = el('ul', {class: 'wb-agents', 'aria-label': `Agents of ${queue.queue} by state`},
    ...STATES.map((state) => el('li', {'data-state': state},
      `${state.replace('_', '-')}: `, el('strong', {text: String(queue.agents[state] ?? 0)}))));
  return el('section', {class: 'wb-queue', 'data-queue': queue.queue, 'aria-labelledby': title},
    el('h2', {id: title, text: queue.queue}),
    el('table', {},
      el('caption', {text: `Queue ${queue.queue}, per channel`}),
      el('thead', {}, head),
      el('tbody', {}, ...queue.channels.map(channelRow))),
    agents);
}

function setStatus(state, text) {
  const status = $('wb-status');
  status.dataset.state = state;
  status.textContent = text;
}

export function render(board) {
  $('wb-queues').replaceChildren(...board.queues.map(queueSection));
  $('wb-updated').textContent =
    `Updated ${new Date(board.at * 1000).toLocaleTimeString()}`;
  $('wb-window').textContent =
    `Service level, speed of answer and abandon rate cover the last ${duration(board.window)}, from ` +
    'the interactions\' event log, as the reports compute them.';
}

class Poller {
  constructor(token) {
    this.token = token;
    this.delay = POLL_MS;
    this.timer = null;
    this.stopped = false;
  }

  schedule(ms) {
    clearTimeout(this.timer);  // never more than one request pending or planned
    this.timer = this.stopped || document.hidden ? null : setTimeout(() => this.poll(), ms);
  }

  async poll() {
    this.timer = null;
    let response;
    try {
      response = await fetch('/api/wallboard', {headers: {Authorization: `Bearer ${this.token}`},
        cache: 'no-store'});
    } catch {
      response = null;
    }
    if (response && (response.status === 401 || response.status === 403)) {
      this.stopped = true;
      sessionStorage.removeItem(STORAGE_KEY);
      setStatus('refused', 'This wallboard link was refused: ask a supervisor for a new one.');
      return;
    }
    if (response && response.ok) {
      render(await response.json());
      setStatus('live', 'Live');
      this.delay = POLL_MS;
    } else {
      this.delay = Math.min(this.delay * 2, MAX_BACKOFF_MS);
      setStatus('retrying', `No answer from the server; trying again in ${Math.round(this.delay / 1000)} s`);
    }
    this.schedule(this.delay);
  }
}

function start() {
  const token = takeToken();
  if (!token) {
    setStatus('refused', 'Open this page with the wallboard link a supervisor made (it ends in #token=…).');
    return;
  }
  const poller = new Poller(token);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poller.schedule(0);
  });
  poller.schedule(0);
}

start();
