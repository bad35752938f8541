// The transfer picker: who could take this conversation now (the agent's team, judged as the
// transfer itself will judge them) and each queue's waiting count and longest wait. Choosing a
// row fills the conversation's transfer form; the agent adds a note and presses Transfer.
import {el} from '../shared/dom.js';
import {fmtSeconds} from '../shared/format.js';
import {api, on, showError} from './desk.js';

const WHY = {
  'not-available': 'not available', 'no-capacity': 'no free slot', 'voice-exclusive': 'on a call',
  'missing-skill': 'lacks skill', 'skill-too-low': 'skill too low',
};

function whyText(why) {
  if (!why) return '';
  const [kind, detail] = why.split(':');
  return `${WHY[kind] || kind}${detail ? ` (${detail})` : ''}`;
}

function choose(item, kind, value) {
  const p = item.parts;
  p.transferKind.value = kind;
  p.transferKind.dispatchEvent(new Event('change'));
  p.transferTarget.value = value;
  p.picker.hidden = true;
  p.pick.setAttribute('aria-expanded', 'false');
  p.transferNote.focus();
}

async function fill(item) {
  const p = item.parts;
  p.picker.replaceChildren(el('p', {text: 'Loading…'}));
  let body;
  try {
    body = await api('GET', `/api/transfer-targets?interaction_id=${encodeURIComponent(item.id)}`);
  } catch (exc) {
    p.picker.hidden = true;
    showError(exc, 'transfer picker');
    return;
  }
  const agents = body.agents.map((a) => el('li', {},
    el('button', {type: 'button', class: 'pick-row', 'data-testid': 'pick-agent', 'data-agent-id': a.id,
                  disabled: !a.can_take, onclick: () => choose(item, 'agent', a.id)},
      el('span', {class: 'pill', 'data-state': a.state, text: a.state}), ' ',
      el('span', {text: a.name}),
      a.can_take ? null : el('small', {text: ` — ${whyText(a.why)}`}))));
  const queues = body.queues.map((q) => el('li', {},
    el('button', {type: 'button', class: 'pick-row', 'data-testid': 'pick-queue', 'data-queue': q.name,
                  onclick: () => choose(item, 'queue', q.name)},
      el('strong', {text: q.name}), ' ',
      el('small', {'data-testid': 'pick-queue-wait',
                   text: `${q.waiting} waiting${q.waiting ? ` · longest ${fmtSeconds(q.longest_wait)}` : ''}`}))));
  p.picker.replaceChildren(
    el('h3', {text: 'Agents'}),
    agents.length ? el('ul', {class: 'pick-list'}, agents) : el('p', {class: 'empty', text: 'No one else in your team.'}),
    el('h3', {text: 'Queues'}), el('ul', {class: 'pick-list'}, queues));
  const first = p.picker.querySelector('button:not([disabled])');
  if (first) first.focus();
}

export function openPicker(item) {
  const p = item.parts;
  if (!p.picker) return;
  const opening = p.picker.hidden;
  p.picker.hidden = !opening;
  p.pick.setAttribute('aria-expanded', String(opening));
  if (opening) fill(item);
}

function attach(item) {
  const p = item.parts;
  if (!p.transfer || p.pick) return;
  p.picker = el('div', {class: 'picker', 'data-testid': 'transfer-picker', role: 'group',
                        'aria-label': 'Transfer to', hidden: true});
  p.pick = el('button', {type: 'button', 'data-testid': 'transfer-pick', text: 'Pick…',
                         'aria-expanded': 'false', onclick: () => openPicker(item)});
  p.picker.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { openPicker(item); p.pick.focus(); }
  });
  p.transfer.before(p.pick);
  p.transfer.parentElement.after(p.picker);
}

on('desk.item', ({item, mode}) => { if (mode === 'conversation') attach(item); });
