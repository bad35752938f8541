// A supervisor's whisper on the agent desk: shown to the agent only (the customer never gets
// it; the server never sends it on the chat). The newest few stay in view until dismissed.
import {el} from '../shared/dom.js';
import {fmtTime} from '../shared/format.js';
import {mount, on} from './desk.js';

const KEPT = 5;
// The section is the live region (a role on the list itself would hide its items from it as a list).
const box = mount('work-top', el('section', {class: 'whispers', 'data-testid': 'whispers', hidden: true,
                                             role: 'log', 'aria-live': 'polite',
                                             'aria-label': 'whispers from your supervisor'},
  el('ul', {style: 'margin:0;padding:.25rem 1rem;background:#fff4d6;list-style:none'})));
const items = box.querySelector('ul');

on('supervision.whisper', (msg) => {
  const note = msg.note || {};
  const item = el('li', {'data-testid': 'whisper', 'data-interaction': msg.interaction_id},
    el('strong', {text: `${msg.supervisor_id} whispers`}), ` (${fmtTime(note.at)}): `,
    el('span', {'data-testid': 'whisper-body', text: note.body || ''}),
    ' ', el('button', {type: 'button', 'aria-label': 'dismiss', text: '×', onclick: () => {
      item.remove();
      box.hidden = items.children.length === 0;
    }}));
  items.prepend(item);
  while (items.children.length > KEPT) items.lastElementChild.remove();
  box.hidden = false;
});
on('desk.logout', () => { items.replaceChildren(); box.hidden = true; });
