// What the agent desktop and the supervisor board share: building elements (text only ever as
// text, never as HTML), durations for people, and REST calls that fail with typed errors.
window.Desk = (() => {
  'use strict';

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on') && typeof value === 'function') {
        node.addEventListener(key.slice(2), value);
      } else if (key === 'value') node.value = value;
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fmtSeconds(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '';
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.error_id = (body && body.error_id) || `http-${status}`;
      this.details = (body && body.details) || {};
    }
  }

  // A REST caller with the page's token; ``onExpired`` runs when the server no longer takes it.
  function restClient(getToken, onExpired) {
    return async function api(method, path, body) {
      const token = getToken();
      const headers = {'Accept': 'application/json'};
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

  return {el, fmtSeconds, ApiError, restClient};
})();
