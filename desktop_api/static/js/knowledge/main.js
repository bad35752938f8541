// The knowledge editor (supervisors and admins): list and search articles, write the public and
// internal parts, save (every save is a new version, made from the version shown: an article
// another editor changed meanwhile is refused, not overwritten), and restore an older version.
// An ES module served as a file (shared/api.js, shared/dom.js); all text is inserted as text.
// Agents are refused by the server.
import {revoke, restClient} from '../shared/api.js';
import {$, el} from '../shared/dom.js';

const TOKEN_KEY = 'cti.kb.token';

const S = {token: sessionStorage.getItem(TOKEN_KEY), me: null, current: null};

const api = restClient(() => S.token, () => logout('Your session has expired; please log in again.'));

function showError(err, context) {
  const problems = (err.details && err.details.problems) || [];
  $('kb-errors').replaceChildren(el('div', {class: 'error', 'data-testid': 'kb-error',
                                            'data-error-id': err.error_id || 'error'},
    el('code', {text: err.error_id || 'error'}), ` ${context}: ${err.message || 'failed'}`,
    ...problems.map((p) => el('div', {text: p}))));
}

function notice(text) {
  $('kb-errors').replaceChildren();
  $('kb-notice').textContent = text;
}

const when = (at) => new Date(at * 1000).toLocaleString();

// ----- the list ------------------------------------------------------------------------------

async function loadList() {
  const q = $('kb-search').value.trim();
  const found = await api('GET', `/api/kb/articles?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  $('kb-list').replaceChildren(...found.articles.map((a) => {
    const button = el('button', {type: 'button', 'data-testid': 'kb-list-item', 'data-article-id': a.id,
                                 'aria-current': S.current && S.current.id === a.id ? 'true' : null,
                                 text: a.title});
    button.addEventListener('click', () => open(a.id).catch((err) => showError(err, 'open')));
    return el('li', {}, button);
  }));
}

// ----- one article ---------------------------------------------------------------------------

function fill(article) {
  S.current = article;
  $('kb-title').value = article ? article.title : '';
  $('kb-public').value = article ? article.public_body : '';
  $('kb-internal').value = article ? article.internal_body : '';
  $('kb-tags').value = article ? article.tags.join(', ') : '';
  $('kb-version').textContent = article ? `version ${article.version} · ${article.updated_by}` : 'new article';
  $('kb-version').dataset.version = article ? String(article.version) : '';
  const link = $('kb-public-link');
  link.hidden = !article || !article.public_body.trim();
  if (article) link.href = `/kb/articles/${encodeURIComponent(article.id)}`;
}

async function open(articleId) {
  fill(await api('GET', `/api/kb/articles/${encodeURIComponent(articleId)}`));
  notice('');
  await Promise.all([loadVersions(), loadList()]);
}

async function loadVersions() {
  if (!S.current) {
    $('kb-versions').replaceChildren();
    return;
  }
  const {versions} = await api('GET', `/api/kb/articles/${encodeURIComponent(S.current.id)}/versions`);
  $('kb-versions').replaceChildren(...versions.map((v) => {
    const item = el('li', {'data-testid': 'kb-version-item', 'data-version': v.version},
      el('strong', {text: `v${v.version}`}), el('span', {text: `${v.title} · ${v.by} · ${when(v.at)}`}),
      v.restored_from ? el('em', {text: `restored from v${v.restored_from}`}) : '');
    if (v.version !== S.current.version) {
      const restore = el('button', {type: 'button', 'data-testid': `kb-restore-${v.version}`,
                                    text: 'Restore'});
      restore.addEventListener('click', () => restoreVersion(v.version));
      item.append(restore);
    }
    return item;
  }));
}

function formText() {
  return {
    title: $('kb-title').value.trim(),
    public_body: $('kb-public').value,
    internal_body: $('kb-internal').value,
    tags: $('kb-tags').value.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean),
  };
}

async function save(event) {
  event.preventDefault();
  const text = formText();
  try {
    const saved = S.current
      ? await api('PUT', `/api/kb/articles/${encodeURIComponent(S.current.id)}`,
                  {...text, base_version: S.current.version})
      : await api('POST', '/api/kb/articles', text);
    fill(saved);
    notice(`Saved as version ${saved.version}.`);
    await Promise.all([loadVersions(), loadList()]);
  } catch (err) {
    showError(err, 'save');
  }
}

async function restoreVersion(version) {
  try {
    const restored = await api('POST', `/api/kb/articles/${encodeURIComponent(S.current.id)}/versions/${version}/restore`,
                               {base_version: S.current.version});
    fill(restored);
    notice(`Version ${version} restored as version ${restored.version}.`);
    await Promise.all([loadVersions(), loadList()]);
  } catch (err) {
    showError(err, 'restore');
  }
}

// ----- logging in ----------------------------------------------------------------------------

async function enter() {
  $('kb-login-view').hidden = true;
  $('kb-console').hidden = false;
  $('kb-logout').hidden = false;
  $('kb-who').hidden = false;
  fill(null);
  await loadList();
}

async function login(event) {
  event.preventDefault();
  $('kb-login-error').textContent = '';
  try {
    const done = await api('POST', '/api/login', {agent_id: $('kb-login-agent').value.trim(),
                                                  password: $('kb-login-password').value});
    if (!['supervisor', 'admin'].includes(done.agent.role)) {
      $('kb-login-error').textContent = 'Only supervisors and admins edit the knowledge base.';
      return;
    }
    S.token = done.token;
    sessionStorage.setItem(TOKEN_KEY, S.token);
    $('kb-who').textContent = done.agent.name || done.agent.id;
    await enter();
  } catch (err) {
    $('kb-login-error').textContent = err.message || 'log-in failed';
  }
}

function logout(why) {
  revoke(S.token);
  S.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('kb-console').hidden = true;
  $('kb-logout').hidden = true;
  $('kb-who').hidden = true;
  $('kb-login-view').hidden = false;
  $('kb-login-error').textContent = why || '';
}

$('kb-login-form').addEventListener('submit', login);
$('kb-logout').addEventListener('click', () => logout(''));
$('kb-form').addEventListener('submit', save);
$('kb-new').addEventListener('click', () => {
  fill(null);
  notice('');
  loadVersions();
  $('kb-title').focus();
});
$('kb-search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadList().catch((err) => showError(err, 'search'));
});

if (S.token) enter().catch(() => logout(''));
