// REST calls that fail with typed errors, and the token's life: refreshed before it expires,
// revoked on log-out.

export class ApiError extends Error {
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

export function current(token) {
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

export function keepFresh(getToken) {
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

// A REST caller with the page's token; ``onExpired`` runs when the server no longer takes it.
export function restClient(getToken, onExpired) {
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
export function revoke(token) {
  const latest = current(token);
  if (!latest) return;
  fetch('/api/logout', {method: 'POST', keepalive: true,
                        headers: {'Authorization': `Bearer ${latest}`, 'Accept': 'application/json'}})
    .catch(() => {});
}
