// Typing indicators in chat: the agent's typing is signalled to the visitor (at most one signal
// per 2 s; the server drops the rest as well), and "the customer is typing…" shows on the card
// for a few seconds after each of the visitor's signals, or until their message arrives.
import {el} from '../shared/dom.js';
import {on, send} from './desk.js';
import {items} from './items.js';

const GAP_MS = 2000;
const SHOWN_MS = 5000;

function isChat(item) { return (item.interaction || {}).channel === 'chat'; }

function attach(item) {
  const p = item.parts;
  if (!p.replyInput || p.typing || !isChat(item)) return;
  p.typing = el('p', {class: 'typing', 'data-testid': 'customer-typing', role: 'status', hidden: true,
                      text: 'The customer is typing…'});
  p.messages.after(p.typing);
  let last = 0;
  p.replyInput.addEventListener('input', () => {
    const now = Date.now();
    if (now - last < GAP_MS || !p.replyInput.value.trim() || p.replyInput.value.startsWith('/')) return;
    last = now;
    send('typing', {interaction_id: item.id}, {label: 'typing', onError: () => {}});
  });
}

function hide(item) {
  const p = item && item.parts;
  if (!p || !p.typing) return;
  p.typing.hidden = true;
  clearTimeout(p.typingTimer);
}

on('desk.item', ({item, mode}) => { if (mode === 'conversation') attach(item); });

on('typing', (msg) => {
  if (msg.by !== 'customer') return;  // the agent's own signal, echoed
  const item = items.get(msg.interaction_id);
  const p = item && item.parts;
  if (!p || !p.typing) return;
  p.typing.hidden = false;
  clearTimeout(p.typingTimer);
  p.typingTimer = setTimeout(() => hide(item), SHOWN_MS);
});

on('message.added', (msg) => {
  if (msg.message && msg.message.sender === 'customer') hide(items.get(msg.interaction_id));
});
