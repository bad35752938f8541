// Campaigns on the supervisor board (docs/campaigns.md): announce a campaign, and see for each
// one who of your teams has read it and who has not (region board-end). Text is always inserted
// as text, never as HTML.
import {el} from '../shared/dom.js';
import {api, mount, on} from './board.js';

const REFRESH_MS = 30_000;

function field(label, input) {
  // display: contents: the label's text and its input become the form grid's two cells
  return el('label', {class: 'campaign-field', style: 'display: contents'}, el('span', {text: label}), input);
}

function moment(value) {
  return value ? new Date(value).getTime() / 1000 : undefined;  // a datetime-local: the browser's zone
}

function form(onDone) {
  const inputs = {
    name: el('input', {name: 'name', required: true, maxlength: '200', 'data-testid': 'campaign-name'}),
    starts_at: el('input', {name: 'starts_at', type: 'datetime-local', required: true,
      'data-testid': 'campaign-starts'}),
    ends_at: el('input', {name: 'ends_at', type: 'datetime-local', required: true, 'data-testid': 'campaign-ends'}),
    channels: el('input', {name: 'channels', placeholder: 'voice, chat, email (empty: all)',
      'data-testid': 'campaign-channels'}),
    keywords: el('input', {name: 'keywords', required: true, placeholder: 'black friday, discount code',
      'data-testid': 'campaign-keywords'}),
    summary: el('textarea', {name: 'summary', required: true, maxlength: '2000', rows: '2',
      'data-testid': 'campaign-summary-input'}),
    public_faq: el('textarea', {name: 'public_faq', maxlength: '20000', rows: '2', 'data-testid': 'campaign-faq-input'}),
    internal_notes: el('textarea', {name: 'internal_notes', maxlength: '20000', rows: '2',
      'data-testid': 'campaign-internal-input'}),
  };
  const problem = el('p', {class: 'form-error', role: 'alert', 'data-testid': 'campaign-error'});
  const node = el('form', {class: 'campaign-form', 'data-testid': 'campaign-form',
                           style: 'display: grid; grid-template-columns: 14em minmax(0, 40em); gap: .4em; '
                             + 'align-items: start; margin-top: .6em'},
    field('Name', inputs.name), field('Starts', inputs.starts_at), field('Ends', inputs.ends_at),
    field('Channels', inputs.channels), field('Keywords (comma separated)', inputs.keywords),
    field('Summary', inputs.summary), field('Public FAQ', inputs.public_faq),
    field('Internal notes', inputs.internal_notes), el('span'), problem, el('span'),
    el('button', {type: 'submit', class: 'primary', 'data-testid': 'campaign-create', text: 'Announce',
                  style: 'justify-self: start'}));
  const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
  node.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    try {
      await api('POST', '/api/campaigns', {
        name: inputs.name.value.trim(), starts_at: moment(inputs.starts_at.value),
        ends_at: moment(inputs.ends_at.value), channels: list(inputs.channels.value),
        keywords: list(inputs.keywords.value), summary: inputs.summary.value,
        public_faq: inputs.public_faq.value, internal_notes: inputs.internal_notes.value,
      });
      node.reset();
      onDone();
    } catch (err) {
      const details = (err && err.details && err.details.problems) || [];
      problem.textContent = [(err && err.message) || 'not saved', ...details].join('; ');
    }
  });
  return node;
}

async function row(c) {
  let readers = {acknowledged: {}, not_acknowledged: []};
  try {
    readers = await api('GET', `/api/campaigns/${encodeURIComponent(c.id)}/readers`);
  } catch (err) { /* shown as unknown */ }
  const unread = readers.not_acknowledged;
  return el('tr', {'data-testid': 'campaign-row', 'data-campaign-id': c.id},
    el('td', {text: c.name}),
    el('td', {text: new Date(c.starts_at * 1000).toLocaleString()}),
    el('td', {text: new Date(c.ends_at * 1000).toLocaleString()}),
    el('td', {'data-testid': 'campaign-read', text: Object.keys(readers.acknowledged).join(', ') || '—'}),
    el('td', {'data-testid': 'campaign-unread', 'data-count': String(unread.length),
      text: unread.join(', ') || 'everyone has read it'}));
}

async function refresh(body) {
  let data;
  try {
    data = await api('GET', '/api/campaigns');
  } catch (err) {
    return;
  }
  body.replaceChildren(...await Promise.all((data.campaigns || []).map(row)));
}

const body = el('tbody', {'data-testid': 'campaigns'});
mount('board-end', el('section', {class: 'card', 'aria-labelledby': 'campaigns-title',
                                  'data-testid': 'campaigns-card'},
  el('h2', {id: 'campaigns-title', text: 'Campaigns'}),
  el('table', {}, el('thead', {}, el('tr', {},
    ...['Campaign', 'Starts', 'Ends', 'Read by', 'Not read yet'].map((t) => el('th', {text: t})))), body),
  el('details', {}, el('summary', {text: 'Announce a campaign'}), form(() => refresh(body)))));

let timer = null;
on('board.login', () => {
  refresh(body);
  clearInterval(timer);
  timer = setInterval(() => refresh(body), REFRESH_MS);
});
on('board.logout', () => { clearInterval(timer); body.replaceChildren(); });
