// Campaign notices on the agent desk (docs/campaigns.md):
// - the notices area (region work-top): the campaigns announced to this agent, each acknowledged
//   with one click (stored per agent);
// - the screen pop: the live campaigns the customer's words match (the pop's "campaigns"), with
//   what customers may be told and the internal notes.
// Text is always inserted as text, never as HTML.
import {el} from '../shared/dom.js';
import {api, mount, on, showError} from './desk.js';

const REFRESH_MS = 60_000;  // notices change rarely: a minute is soon enough for a new one

function fmtDate(at) {
  return new Date(at * 1000).toLocaleString([], {dateStyle: 'medium', timeStyle: 'short'});
}

export function campaignBody(c) {
  return [
    el('p', {class: 'campaign-summary', 'data-testid': 'campaign-summary', text: c.summary}),
    el('p', {class: 'muted', text: `${fmtDate(c.starts_at)} – ${fmtDate(c.ends_at)}`
      + (c.channels.length ? ` · ${c.channels.join(', ')}` : '')}),
    c.public_faq ? el('details', {}, el('summary', {text: 'What customers may be told'}),
      el('p', {class: 'campaign-faq', 'data-testid': 'campaign-faq', text: c.public_faq})) : null,
    c.internal_notes ? el('details', {}, el('summary', {text: 'Internal notes'}),
      el('p', {class: 'campaign-internal', 'data-testid': 'campaign-internal', text: c.internal_notes})) : null,
  ];
}

// ----- the notices area ---------------------------------------------------------------------

const box = mount('work-top', el('section', {class: 'campaign-notices', 'data-testid': 'campaign-notices',
  'aria-label': 'Campaign notices', hidden: true}));
let timer = null;

function acknowledged(c) { return c.acknowledged_at !== null && c.acknowledged_at !== undefined; }

function noticeCard(c) {
  const done = acknowledged(c);
  const button = el('button', {type: 'button', class: 'primary', 'data-testid': 'campaign-ack',
                               text: 'Acknowledge'});
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', `/api/campaigns/${encodeURIComponent(c.id)}/acknowledge`);
      await refresh();
    } catch (err) {
      button.disabled = false;
      showError(err, 'acknowledge');
    }
  });
  return el('article', {class: 'card campaign', 'data-testid': 'campaign-notice', 'data-campaign-id': c.id,
                        'data-acknowledged': done ? 'yes' : 'no'},
    el('h3', {text: c.name}), ...campaignBody(c),
    done ? el('p', {class: 'muted', 'data-testid': 'campaign-acked', text: `Read ${fmtDate(c.acknowledged_at)}`})
      : button);
}

async function refresh() {
  let data;
  try {
    data = await api('GET', '/api/campaigns/notices');
  } catch (err) {
    return;  // the desk shows connection trouble itself; the next refresh tries again
  }
  const notices = data.notices || [];
  const unread = notices.filter((c) => !acknowledged(c)).length;
  box.replaceChildren(el('h2', {text: unread ? `Campaign notices (${unread} to read)` : 'Campaign notices'}),
    ...notices.map(noticeCard));
  box.hidden = notices.length === 0;
  box.dataset.unread = String(unread);
}

on('desk.login', () => {
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
});
on('desk.logout', () => {
  clearInterval(timer);
  box.replaceChildren();
  box.hidden = true;
});

// ----- the screen pop ----------------------------------------------------------------------

const popped = new Map();  // interaction id -> its desk item, for campaigns named after the offer

function showPopCampaigns(item) {
  const pop = item.parts && item.parts.pop;
  if (!pop) return;
  const old = pop.querySelector('[data-testid=pop-campaigns]');
  if (old) old.remove();
  const campaigns = (item.pop && item.pop.campaigns) || [];
  if (!campaigns.length) return;
  pop.prepend(el('section', {class: 'pop-campaigns', 'data-testid': 'pop-campaigns'},
    el('h4', {text: 'Campaign'}),
    ...campaigns.map((c) => el('div', {class: 'campaign', 'data-testid': 'pop-campaign', 'data-tag': c.tag},
      el('strong', {text: c.name}), ...campaignBody(c)))));
}

on('desk.item', ({item}) => {
  if (item.id) popped.set(item.id, item);
  showPopCampaigns(item);
});

on('desk.item.removed', (item) => { if (item && item.id) popped.delete(item.id); });

// A customer's later message that names a live campaign: added to the pop once (by tag).
on('message.added', (msg) => {
  const item = popped.get(msg.interaction_id);
  if (!item || !item.pop || !(msg.campaigns || []).length) return;
  const shown = item.pop.campaigns || [];
  const fresh = msg.campaigns.filter((c) => !shown.some((s) => s.tag === c.tag));
  if (!fresh.length) return;
  item.pop.campaigns = [...shown, ...fresh];
  showPopCampaigns(item);
});
