// Keyboard shortcuts for the desk, listed by "?". Single keys act when the focus is not in a
// text field (Escape leaves one); Alt with the same key works from anywhere.
import {el} from '../shared/dom.js';
import {mount, on, session} from './desk.js';
import {items} from './items.js';
import {next, selected} from './inbox.js';
import {openPicker} from './picker.js';

function firstOffer() {
  return [...items.values()].find((i) => i.mode === 'offer') || null;
}

function press(button) { if (button && !button.disabled) button.click(); }

const KEYS = [
  {key: 'a', text: 'Accept the first offer', run: () => press(firstOffer()?.parts.accept)},
  {key: 'r', text: 'Reject the first offer', run: () => press(firstOffer()?.parts.reject)},
  {key: 'n', text: 'Next conversation', run: () => next(1)},
  {key: 'p', text: 'Previous conversation', run: () => next(-1)},
  {key: 'c', text: 'Complete the selected conversation (choose a disposition first)',
   run: () => { const item = selected(); if (item) { item.parts.disposition.focus(); press(item.parts.complete); } }},
  {key: 't', text: 'Transfer the selected conversation (opens the picker)',
   run: () => { const item = selected(); if (item) openPicker(item); }},
  {key: '?', text: 'Show or hide this list', run: () => toggle()},
];

const dialog = el('div', {class: 'shortcuts', 'data-testid': 'shortcuts', role: 'dialog', 'aria-modal': 'false',
                          'aria-labelledby': 'shortcuts-title', hidden: true, tabindex: '-1'},
  el('h2', {id: 'shortcuts-title', text: 'Keyboard shortcuts'}),
  el('dl', {}, KEYS.map((k) => [el('dt', {}, el('kbd', {text: k.key})), el('dd', {text: k.text})])),
  el('p', {text: 'In a text field: Escape leaves it, or hold Alt with the key.'}),
  el('button', {type: 'button', text: 'Close', onclick: () => toggle(false)}));
mount('work-top', dialog);

let before = null;
function toggle(show = dialog.hidden) {
  dialog.hidden = !show;
  if (show) { before = document.activeElement; dialog.focus(); } else if (before && before.focus) before.focus();
}

function editable(node) {
  return node && (node.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(node.tagName));
}

document.addEventListener('keydown', (event) => {
  if (!session.token || event.ctrlKey || event.metaKey || event.isComposing) return;
  if (event.key === 'Escape') {
    if (!dialog.hidden) { toggle(false); event.preventDefault(); } else if (editable(event.target)) event.target.blur();
    return;
  }
  if (editable(event.target) && !event.altKey) return;
  const key = event.altKey ? (event.code.startsWith('Key') ? event.code.slice(3).toLowerCase() : event.key) : event.key;
  const found = KEYS.find((k) => k.key === key.toLowerCase() || k.key === key);
  if (!found) return;
  event.preventDefault();
  found.run();
});

on('desk.logout', () => toggle(false));
