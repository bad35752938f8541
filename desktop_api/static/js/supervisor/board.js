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

// Drawing waits for the next frame, once per key however many events asked for it: a burst of
// events costs one redraw per frame, not one per event.
const drawing = new Map();  // key -> function to run at the next frame
let frame = null;

export function drawSoon(key, fn) {
  drawing.set(key, fn);
  if (frame === null) frame = requestAnimationFrame(drawNow);
}

function drawNow() {
  frame = null;
  const due = [...drawing.values()];
  drawing.clear();
  for (const fn of due) {
    try { fn(); } catch (exc) { showError({error_id: 'client-error', message: String(exc)}); }
  }
}

const pendingEvents = [];  // [time, text], oldest first

export function addEvent(text) {
  const now = new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
  pendingEvents.push([now, text]);
  if (pendingEvents.length > MAX_EVENTS) pendingEvents.splice(0, pendingEvents.length - MAX_EVENTS);
  drawSoon('events', () => {
    const fresh = pendingEvents.splice(0).reverse()
      .map(([when, what]) => el('li', {'data-testid': 'event'}, el('span', {class: 'when', text: when}), what));
    $('events').prepend(...fresh);
    while ($('events').children.length > MAX_EVENTS) $('events').lastElementChild.remove();
  });
}
