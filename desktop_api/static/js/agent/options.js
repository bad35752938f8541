// The admins' lists for this desk (the hello's `desk`, and `desk.options` when they change): the away reasons in the state form and
// the dispositions of every conversation. An empty list keeps what the page has (anything goes).
import {$, el} from '../shared/dom.js';
import {on, session} from './desk.js';
import {items} from './items.js';

export const options = {dispositions: [], away_reasons: [], canned_replies: []};

function fill(select, values, placeholder) {
  const keep = select.value;
  select.replaceChildren(...(placeholder ? [el('option', {value: '', text: placeholder})] : []),
    ...values.map((v) => el('option', {value: v, text: v})));
  if (values.includes(keep)) select.value = keep;
}

function applyDispositions(item) {
  const select = item.parts && item.parts.disposition;
  if (select && options.dispositions.length) fill(select, options.dispositions, 'Disposition…');
}

function apply(desk) {
  options.dispositions = Array.isArray(desk.dispositions) ? desk.dispositions : [];
  options.away_reasons = Array.isArray(desk.away_reasons) ? desk.away_reasons : [];
  options.canned_replies = Array.isArray(desk.canned_replies) ? desk.canned_replies : [];
  if (options.away_reasons.length) {
    fill($('state-reason'), options.away_reasons);
    const agent = session.agent;
    if (agent && agent.state === 'away' && options.away_reasons.includes(agent.reason)) {
      $('state-reason').value = agent.reason;
    }
  }
  for (const item of items.values()) applyDispositions(item);
}

on('hello', (msg) => apply(msg.desk || {}));
// An admin changed them while the desk is open: the server pushes the new lists.
on('desk.options', (msg) => apply(msg.desk || {}));

on('desk.item', ({item, mode}) => { if (mode === 'conversation') applyDispositions(item); });
