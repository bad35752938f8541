// The supervisor board's core, the module every part of the board talks to:
//   S                 the board's state (token, me, agents, work, stats, ...)
//   on(type, fn)      a socket message by its type, "board.message" (every message, after the
//                     typed listeners), or "board.login" / "board.logout"; returns an unsubscribe
//   api(method, path, body)   a REST call with the supervisor's token
//   mount(region, node)       put a node into a named region of the page (data-region)
//   showError(err, context), addEvent(text)   what the supervisor is told
import {restClient} from '../shared/api.js';
import {createBus} from '../shared/bus.js';
import {$, el} from '../shared/dom.js';

export {mount, region} from '../shared/regions.js';

export const TOKEN_KEY = 'cti.supervisor.token';
const MAX_EVENTS = 40;

export const S = {token: sessionStorage.getItem(TOKEN_KEY), me: null, ws: null, wanted: false, retry: 0,
                  agents: new Map(), work: new Map(), chosen: new Map(), stats: null, statsAt: 0,
                  voice: false, refreshTimer: null, tick: null, poller: null};

export function showError(err, context) {
  const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': err.error_id || 'error'},
    el('code', {text: err.error_id || 'error'}),
    context ? `${context}: ${err.message || 'failed'}` : (err.message || 'failed'));
  $('errors').prepend(node);
  while ($('errors').children.length > 5) $('errors').lastElementChild.remove();
  setTimeout(() => node.remove(), 10000);
}

const bus = createBus((exc) => showError({error_id: 'client-error', message: String(exc)}));
export const on = bus.on;
export const emit = bus.emit;

// The log-out on 401 is main.js's (it owns the session): it registers itself here.
let onExpired = () => {};
export function setExpiredHandler(fn) { onExpired = fn; }
export const api = restClient(() => S.token, () => onExpired());

// Drawing waits for the next frame, once per key however many events asked for it, and at most
// every DRAW_EVERY_MS: a burst of events costs a few redraws (each a layout and a paint of the
// tables), not one per event. A board read from across the room needs no more.
const DRAW_EVERY_MS = 250;
const drawing = new Map();  // key -> function to run at the next frame
let frame = null;
let drawnAt = -Infinity;

export function drawSoon(key, fn) {
  drawing.set(key, fn);
  if (frame !== null) return;
  const wait = drawnAt + DRAW_EVERY_MS - performance.now();
  frame = wait > 0 ? setTimeout(() => { frame = requestAnimationFrame(drawNow); }, wait)
                   : requestAnimationFrame(drawNow);
}

function drawNow() {
  frame = null;
  drawnAt = performance.now();
  const parts = [...drawing.keys()];
  const due = [...drawing.values()];
  drawing.clear();
  for (const fn of due) {
    try { fn(); } catch (exc) { showError({error_id: 'client-error', message: String(exc)}); }
  }
  // In the browser's performance timeline (DevTools, and the board's tests): each redraw.
  performance.measure('board.draw', {start: drawnAt, detail: {parts}});
}

// The socket's messages wait here and are handled a slice of a frame at a time, so a burst (a
// reconnect, a busy hour) never holds the page for long; in a hidden tab, which draws nothing,
// at once.
const SLICE_MS = 8;
const inbox = [];
let handling = null;

export function deliver(msg, handle) {
  inbox.push(msg);
  if (document.hidden) { handleSome(handle, Infinity); return; }
  if (handling === null) handling = requestAnimationFrame(() => handleSome(handle, SLICE_MS));
}

function handleSome(handle, budget) {
  handling = null;
  const until = performance.now() + budget;
  while (inbox.length && performance.now() < until) handle(inbox.shift());
  if (inbox.length) handling = requestAnimationFrame(() => handleSome(handle, SLICE_MS));
}

const pendingEvents = [];  // [time, text], oldest first
const clock = new Intl.DateTimeFormat([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});

// The time shown changes once a second: formatted once a second, not once per event of a burst.
let clockSecond = -1;
let clockText = '';

export function addEvent(text) {
  const second = Math.floor(Date.now() / 1000);
  if (second !== clockSecond) { clockSecond = second; clockText = clock.format(new Date(second * 1000)); }
  const now = clockText;
  pendingEvents.push([now, text]);
  if (pendingEvents.length > MAX_EVENTS) pendingEvents.splice(0, pendingEvents.length - MAX_EVENTS);
  drawSoon('events', () => {
    const fresh = pendingEvents.splice(0).reverse()
      .map(([when, what]) => el('li', {'data-testid': 'event'}, el('span', {class: 'when', text: when}), what));
    $('events').prepend(...fresh);
    while ($('events').children.length > MAX_EVENTS) $('events').lastElementChild.remove();
  });
}
