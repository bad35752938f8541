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
                  voice: false, refreshTimer: null, tick: null};

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

export function addEvent(text) {
  const now = new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
  $('events').prepend(el('li', {'data-testid': 'event'}, el('span', {class: 'when', text: now}), text));
  while ($('events').children.length > MAX_EVENTS) $('events').lastElementChild.remove();
}
