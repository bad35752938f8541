// The admin page: the live configuration, section by section, and its versions with a one-click
// rollback. Every change goes through /api/admin (checked, audited, a new version); the page
// follows changes made elsewhere through the supervisor socket's "config.changed" events.
import {restClient} from '../shared/api.js';
import {$, el} from '../shared/dom.js';

export const TOKEN_KEY = 'cti.admin.token';
export const CHANNELS = ['voice', 'chat', 'email', 'sms', 'x', 'slack'];
export const NAMED = {queues: 'name', agents: 'id', teams: 'name', canned_replies: 'id'};
export const TABS = [
  ['queues', 'Queues'], ['agents', 'Agents'], ['teams', 'Teams & supervisors'], ['skills', 'Skills'],
  ['business_hours', 'Business hours & holidays'], ['lists', 'Dispositions & away reasons'],
  ['canned_replies', 'Canned replies'], ['settings', 'Chat & routing'], ['versions', 'Versions'],
];

export const S = {token: sessionStorage.getItem(TOKEN_KEY), me: null, version: 0, doc: null, tab: 'queues',
                         ws: null, wanted: false, retry: 0};

// The log-out on 401 is main.js's (it owns the session): it registers itself here.
let onExpired = () => {};
export function setExpiredHandler(fn) { onExpired = fn; }
export const api = restClient(() => S.token, () => onExpired());

// The page draws the chosen section after each load: main.js registers how.
let render = async () => {};
export function setRender(fn) { render = fn; }

export function showError(err, context) {
  const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': err.error_id || 'error'},
    el('code', {text: err.error_id || 'error'}),
    `${context ? context + ': ' : ''}${err.message || 'failed'}`);
  $('errors').prepend(node);
  while ($('errors').children.length > 5) $('errors').lastElementChild.remove();
}

export function notice(text) { $('notice').textContent = text; }

// ----- loading and changing ---------------------------------------------------------------

export async function load() {
  const config = await api('GET', '/api/admin/config');
  S.version = config.version;
  S.doc = config.document;
  $('config-version').textContent = `version ${S.version}`;
  $('config-version').dataset.version = String(S.version);
  await render();
}

export async function change(method, path, body, what) {
  try {
    // Based on the version shown: a change another admin made meanwhile is not silently undone.
    const done = await api(method, path, body, {'If-Match': String(S.version)});
    // Ours from now: its config.changed, which may come before the reload below, is no news.
    S.version = Math.max(S.version, done.version);
    notice(`Version ${done.version}: ${done.summary.slice(0, 3).join('; ')}${done.summary.length > 3 ? ' …' : ''}`);
    $('errors').replaceChildren();
    await load();
  } catch (err) {
    showError(err, what);
    if (err.error_id === 'config-changed') await load().catch(() => {});
  }
}

export function parseJson(text, what) {
  try { return JSON.parse(text || '{}'); } catch (exc) {
    showError({error_id: 'bad-json', message: String(exc.message || exc)}, what);
    return null;
  }
}
