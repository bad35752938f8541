// The messages and the internal notes of a work item, and the download of a customer's file.
import {el} from '../shared/dom.js';
import {fmtTime} from '../shared/format.js';
import {currentToken, session, showError} from './desk.js';

function sortedMessages(item) {
  return [...item.messages.values()].sort((a, b) => (a.at || 0) - (b.at || 0));
}

function senderLabel(m) {
  if (m.sender === 'customer') return 'Customer';
  if (m.sender === 'system') return 'System';
  if (m.agent_id && m.agent_id === session.agentId) return 'You';
  return m.agent_id || 'Agent';
}

export function renderMessages(item) {
  const p = item.parts;
  const messages = sortedMessages(item);
  if (p.popMessages) {
    p.popMessages.replaceChildren(...(messages.length ? messages.map((m) =>
      el('li', {'data-testid': 'pop-message', 'data-sender': m.sender},
        el('span', {class: 'muted', text: `${senderLabel(m)} · ${fmtTime(m.at)}: `}), m.body))
      : [el('li', {class: 'muted', text: 'No messages yet.'})]));
  }
  if (p.messages) {
    const list = p.messages;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...messages.map((m) =>
      el('li', {'data-testid': 'message', 'data-sender': m.sender, 'data-message-id': m.id},
        el('span', {class: 'meta', text: `${senderLabel(m)} · ${fmtTime(m.at)}`}),
        messageBody(item, m))));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}

// A file the customer sent is listed in the message as "[attachment] name (type, size) sha256:…";
// that line becomes a button that downloads it (the API wants the token, so not a plain link).
const ATTACHMENT_LINE = /^\[attachment\] (.+) \(([^,()]+), [^()]+\) (sha256:[0-9a-f]{64})$/;

function messageBody(item, m) {
  const body = el('span', {class: 'body', 'data-testid': 'message-body'});
  const lines = String(m.body || '').split('\n');
  lines.forEach((line, n) => {
    const found = m.sender === 'customer' ? ATTACHMENT_LINE.exec(line) : null;
    if (found) {
      const [, filename, type, ref] = found;
      body.append(el('button', {type: 'button', class: 'attachment', 'data-testid': 'attachment',
                                title: `${type}: download`, text: `📎 ${filename}`,
                                onclick: () => download(item.id, ref, filename)}));
    } else {
      body.append(line);
    }
    if (n < lines.length - 1) body.append('\n');
  });
  return body;
}

async function download(interactionId, ref, filename) {
  try {
    const resp = await fetch(`/api/interactions/${encodeURIComponent(interactionId)}/attachments/${ref}`,
                             {headers: {'Authorization': `Bearer ${currentToken()}`}});
    if (!resp.ok) {
      const err = await resp.json().catch(() => ({}));
      throw {error_id: err.error_id || `http-${resp.status}`, message: err.message || `HTTP ${resp.status}`};
    }
    const url = URL.createObjectURL(await resp.blob());
    const a = el('a', {href: url, download: filename, hidden: true});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    showError(err, `download ${filename}`);
  }
}

export function renderNotes(item) {
  const list = item.parts.notes;
  if (!list) return;
  const notes = [...item.notes.values()].sort((a, b) => (a.at || 0) - (b.at || 0));
  list.replaceChildren(...(notes.length ? notes.map((n) =>
    el('li', {'data-testid': 'note'},
      el('span', {class: 'muted', text: `${n.author_id} · ${fmtTime(n.at)}: `}), n.body))
    : [el('li', {class: 'muted plain', text: 'No notes.'})]));
}
