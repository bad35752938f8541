// The admin page's entry point: the tabs, the session and the live "config.changed" events.
import {$, el} from '../shared/dom.js';
import {staffSession} from '../shared/staff.js';
import {S, TABS, TOKEN_KEY, api, load, notice, setExpiredHandler, setRender, showError} from './console.js';
import {listEditor, namedEditors, objectEditor, renderQueues, renderSkills,
        renderVersions} from './sections.js';

async function render() {
  $('tabs').replaceChildren(...TABS.map(([id, label]) => el('button', {
    type: 'button', 'data-testid': `tab-${id}`, 'aria-selected': String(S.tab === id), text: label,
    onclick: () => { S.tab = id; render().catch((err) => showError(err, label)); }})));
  let content;
  if (S.tab === 'queues') content = renderQueues();
  else if (S.tab === 'skills') content = await renderSkills();
  else if (S.tab === 'lists') content = [listEditor('dispositions', 'Dispositions'), listEditor('away_reasons', 'Away reasons')];
  else if (S.tab === 'settings') content = [objectEditor('chat', 'Chat'), objectEditor('routing', 'Routing')];
  else if (S.tab === 'versions') content = await renderVersions();
  else content = namedEditors(S.tab);
  $('pane').replaceChildren(...[content].flat());
  $('pane').dataset.tab = S.tab;
}

// ----- live: another admin's change, on any node ------------------------------------------

async function start() {
  try { S.me = await api('GET', '/api/me'); } catch (err) { return; }
  if (S.me.role !== 'admin') {
    logout('This page is for admins.');
    return;
  }
  $('who').textContent = S.me.name || S.me.id;
  session.show(true);
  S.wanted = true;
  await load();
  session.connect();
}

const session = staffSession({
  S, tokenKey: TOKEN_KEY, views: ['who', 'config-version', 'conn-status', 'logout', 'console'],
  api, start, onMessage: (msg) => {
    if (msg.type === 'config.changed' && msg.version > S.version) {
      notice(`Version ${msg.version} by ${msg.actor} is running.`);
      load().catch((err) => showError(err, 'reload'));
    }
  },
});
const logout = session.logout;
setRender(render);
setExpiredHandler(() => logout('Your session has expired; please log in again.'));
if (S.token) start();
