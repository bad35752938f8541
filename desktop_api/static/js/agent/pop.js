// The screen pop beside an offer or a conversation: who the customer is (and what they only
// claim to be), why this agent was chosen, what was collected, the notes and the history.
import {el} from '../shared/dom.js';
import {fmtSeconds, fmtTime} from '../shared/format.js';
import {api, notice, showError} from './desk.js';
import {customerName, fetchPop} from './items.js';

export function badge(channel) {
  return el('span', {class: 'badge', 'data-channel': channel, 'data-testid': 'channel-badge',
                     text: channel || '?'});
}

// A claim is proven from here: a one-time code sent to the claimed address or number and read
// back by the customer, or a link by hand with the reason the agent checked it.
function claimActions(item, claim) {
  const base = `/api/interactions/${encodeURIComponent(item.id)}/claims/${encodeURIComponent(claim.id)}`;
  const code = el('input', {type: 'text', inputmode: 'numeric', maxlength: '6', size: '7',
                            placeholder: 'code', 'data-testid': 'claim-code', 'aria-label': 'one-time code'});
  const reason = el('input', {type: 'text', maxlength: '500', placeholder: 'why you are sure',
                              'data-testid': 'claim-reason', 'aria-label': 'reason for linking'});
  const act = (path, body, label, done) => api('POST', `${base}${path}`, body)
    .then((result) => { if (done) done(result); fetchPop(item.id); })
    .catch((err) => showError(err, label));
  return el('div', {class: 'claim-actions', 'data-testid': 'claim-actions'},
    el('button', {type: 'button', 'data-testid': 'claim-send-code', text: 'Send code',
      onclick: () => act('/send-code', {}, 'send code', () => notice(`Code sent to ${claim.value}`))}),
    code,
    el('button', {type: 'button', 'data-testid': 'claim-verify', text: 'Verify',
      onclick: () => act('/verify', {code: code.value.trim()}, 'verify')}),
    reason,
    el('button', {type: 'button', 'data-testid': 'claim-link', text: 'Link',
      onclick: () => act('/link', {reason: reason.value.trim()}, 'link')}));
}

export function renderPop(item) {
  const p = item.parts;
  const pop = item.pop || {};
  const interaction = item.interaction || pop.interaction || {};
  if (p.title) p.title.textContent = customerName(item);
  if (p.channel) p.channel.replaceChildren(badge(interaction.channel));
  if (!p.pop) return;

  const customer = pop.customer || {};
  const identities = el('ul', {class: 'identities', 'data-testid': 'identities'},
    (customer.identities || []).map((i) => el('li', {'data-testid': 'identity', 'data-kind': i.kind},
      el('span', {class: 'kind', text: i.kind}), ' ', i.value)));
  // What the customer typed but nobody proved: shown as a claim, never as who they are.
  const claims = el('ul', {class: 'identities', 'data-testid': 'claims'},
    (pop.claims || []).map((c) => el('li', {'data-testid': 'claim', 'data-kind': c.kind, 'data-status': c.status},
      el('span', {class: 'kind', text: c.kind}), ' ', c.value, ' · ', c.text,
      item.mode !== 'offer' && c.status === 'not-verified' ? claimActions(item, c) : null)));

  const facts = el('dl', {'data-testid': 'interaction-facts'},
    el('dt', {text: 'Customer'}), el('dd', {'data-testid': 'customer-name', text: customerName(item)}),
    el('dt', {text: 'Channel'}), el('dd', {}, badge(interaction.channel), ' ',
                                        interaction.direction || ''),
    el('dt', {text: 'Queue'}), el('dd', {text: interaction.queue || ''}),
    interaction.subject ? [el('dt', {text: 'Subject'}), el('dd', {text: interaction.subject})] : null,
    el('dt', {text: 'Waiting since'}), el('dd', {text: fmtTime(interaction.queued_at || interaction.arrived_at)}));

  const reason = pop.routing || (item.offer && item.offer.reason);
  const routing = el('div', {'data-testid': 'routing-reason'});
  if (reason) {
    const skills = Object.entries(reason.skill_match || {}).map(([k, v]) => `${k} ${v}`).join(', ');
    routing.append(el('dl', {},
      el('dt', {text: 'Rule'}), el('dd', {text: reason.rule}),
      el('dt', {text: 'Urgency'}), el('dd', {text: Number(reason.urgency || 0).toFixed(2)}),
      el('dt', {text: 'Waited'}), el('dd', {text: fmtSeconds(reason.waited)}),
      el('dt', {text: 'Your skills'}), el('dd', {text: skills || '—'}),
      reason.preferred ? [el('dt', {text: 'Preferred'}), el('dd', {text: 'you served this customer last'})] : null));
  } else {
    routing.append(el('span', {class: 'muted', text: '—'}));
  }

  const contextEntries = Object.entries(pop.context || interaction.context || {});
  const context = contextEntries.length
    ? el('dl', {'data-testid': 'context'},
        contextEntries.map(([k, v]) => [el('dt', {text: k}), el('dd', {'data-key': k, text: v})]))
    : el('p', {class: 'muted', 'data-testid': 'context', text: 'Nothing collected.'});

  const entries = [...(pop.timeline || [])].sort((a, b) => (b.at || 0) - (a.at || 0));
  const timeline = el('ul', {class: 'timeline', 'data-testid': 'timeline'},
    entries.length ? entries.map((e) => el('li', {
        'data-testid': 'timeline-entry', 'data-channel': e.channel, 'data-kind': e.kind,
        'data-interaction-id': e.interaction_id,
        class: e.interaction_id === item.id ? 'current' : undefined},
      badge(e.channel),
      el('span', {class: 'when'}, fmtTime(e.at), ' · ', e.kind,
         e.sender ? ` · ${e.sender}` : '', e.state ? ` · ${e.state}` : ''),
      el('span', {class: 'summary', text: e.summary})))
      : el('li', {class: 'muted', text: 'No earlier contact.'}));

  p.notes = el('ul', {class: 'notes', 'data-testid': 'notes'});
  const sections = [
    el('h3', {text: 'Customer'}), facts, identities, claims,
    el('h3', {text: 'Why you'}), routing,
    el('h3', {text: 'Context'}), context,
  ];
  if (item.mode === 'offer') {
    p.popMessages = el('ul', {class: 'pop-messages', 'data-testid': 'pop-messages'});
    sections.push(el('h3', {text: 'Messages so far'}), p.popMessages);
  } else {
    p.popMessages = null;
  }
  sections.push(el('h3', {text: 'Notes'}), p.notes);
  sections.push(el('h3', {}, 'History ',
    el('span', {class: 'muted', text: (pop.channels_seen || []).join(', ')})), timeline);
  p.pop.replaceChildren(...sections);
}
