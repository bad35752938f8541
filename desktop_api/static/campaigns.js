// Campaign notices on the agent desk (an ES module of its own; docs/campaigns.md):
// - the notices area: the campaigns announced to this agent, each acknowledged with one click;
// - the screen pop: the live campaigns the customer's words match, with the internal notes.
// It reads the desk's session (sessionStorage) and uses the shared REST client of desk.js; it
// keeps to its own elements, so the page's other code needs to know nothing of it.
// Text is always inserted as text, never as HTML.

const TOKEN_KEY = 'cti.agent.token';
const REFRESH_MS = 60_000;  // notices change rarely: a minute is soon enough for a new one
const Desk = window.Desk;
const api = Desk.restClient(() => sessionStorage.getItem(TOKEN_KEY), () => {});
const el = Desk.el;

function fmtDate(at) {
  return new Date(at * 1000).toLocaleString([], {dateStyle: 'medium', timeStyle: 'short'});
}

function campaignBody(c) {
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

function area() {
  let box = document.getElementById('campaign-notices');
  if (!box) {
    box = el('section', {id: 'campaign-notices', class: 'campaign-notices', 'data-testid': 'campaign-notices',
      'aria-label': 'Campaign notices', hidden: true});
    const anchor = document.getElementById('work-title');
    if (anchor) anchor.after(box); else document.body.append(box);
  }
  return box;
}

function noticeCard(c) {
  const done = c.acknowledged_at !== null && c.acknowledged_at !== undefined;
  const button = el('button', {type: 'button', class: 'primary', 'data-testid': 'campaign-ack',
    text: 'Acknowledge'});
  const card = el('article', {class: 'card campaign', 'data-testid': 'campaign-notice',
    'data-campaign-id': c.id, 'data-acknowledged': done ? 'yes' : 'no'},
  el('h3', {text: c.name}), ...campaignBody(c),
  done ? el('p', {class: 'muted', 'data-testid': 'campaign-acked', text: `Read ${fmtDate(c.acknowledged_at)}`})
    : button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', `/api/campaigns/${encodeURIComponent(c.id)}/acknowledge`);
      await refresh();
    } catch (err) {
      button.disabled = false;
      button.title = (err && err.message) || 'not acknowledged';
    }
  });
  return card;
}

async function refresh() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  let data;
  try {
    data = await api('GET', '/api/campaigns/notices');
  } catch (err) {
    return;  // the page shows connection trouble itself; try again at the next refresh
  }
  const notices = data.notices || [];
  const box = area();
  const unread = notices.filter((c) => c.acknowledged_at === null || c.acknowledged_at === undefined).length;
  box.replaceChildren(
    el('h2', {text: unread ? `Campaign notices (${unread} to read)` : 'Campaign notices'}),
    ...notices.map(noticeCard));
  box.hidden = notices.length === 0;
  box.dataset.unread = String(unread);
}

// ----- the screen pop ----------------------------------------------------------------------

const popped = new WeakSet();

async function addToPop(pop) {
  popped.add(pop);
  const id = pop.dataset.interactionId;
  if (!id) return;
  let data;
  try {
    data = await api('GET', `/api/interactions/${encodeURIComponent(id)}/screen-pop`);
  } catch (err) {
    return;
  }
  const campaigns = data.campaigns || [];
  if (!campaigns.length || pop.querySelector('[data-testid=pop-campaigns]')) return;
  pop.prepend(el('section', {class: 'pop-campaigns', 'data-testid': 'pop-campaigns'},
    el('h4', {text: 'Campaign'}),
    ...campaigns.map((c) => el('div', {class: 'campaign', 'data-testid': 'pop-campaign', 'data-tag': c.tag},
      el('strong', {text: c.name}), ...campaignBody(c)))));
}

function watchPops() {
  const scan = () => {
    for (const pop of document.querySelectorAll('[data-testid=screen-pop][data-interaction-id]')) {
      if (!popped.has(pop)) addToPop(pop);
    }
  };
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
  scan();
}

// ----- start -------------------------------------------------------------------------------

function whenDeskShown() {
  const desk = document.getElementById('desk');
  if (!desk) return;
  const check = () => { if (!desk.hidden) refresh(); };
  new MutationObserver(check).observe(desk, {attributes: true, attributeFilter: ['hidden']});
  check();
  setInterval(check, REFRESH_MS);
}

whenDeskShown();
watchPops();
