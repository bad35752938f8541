// The reports page: figures per period (and queue, channel, agent or team) with a chart, the top
// contact reasons week over week, and one customer's journey across channels. Everything comes
// from /api/reports/* (scoped by the server: a supervisor sees their teams' queues). Page text is
// always inserted as text (el), never as HTML. Formulas: the page's last section and
// docs/reports.md.
import uPlot from '../vendor/uplot.esm.js';
import {ApiError, current, restClient} from '../shared/api.js';
import {$, el} from '../shared/dom.js';
import {fmtSeconds} from '../shared/format.js';
import {staffSession} from '../shared/staff.js';

const TOKEN_KEY = 'cti.reports.token';
const S = {token: sessionStorage.getItem(TOKEN_KEY), me: null, ws: null, wanted: false, retry: 0,
           charts: {}};
const api = restClient(() => S.token, () => logout('Your session has expired; please log in again.'));
const PALETTE = ['#0b62c4', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#656d76'];

function showError(err, context) {
  const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': err.error_id || 'error'},
    el('code', {text: err.error_id || 'error'}),
    `${context ? context + ': ' : ''}${err.message || 'failed'}`,
    (err.details && err.details.problems) ? ` (${err.details.problems.join('; ')})` : '');
  $('errors').prepend(node);
  while ($('errors').children.length > 5) $('errors').lastElementChild.remove();
}

// ----- formatting ---------------------------------------------------------------------------

const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '–');
const secs = (v) => (typeof v === 'number' ? fmtSeconds(v) : '–');
const isoMinute = (ms) => new Date(ms).toISOString().slice(0, 16);  // a datetime-local value, UTC

function period(seconds, by) {
  const iso = new Date(seconds * 1000).toISOString();
  if (by === 'hour') return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
  if (by === 'week') return `week of ${iso.slice(0, 10)}`;
  return iso.slice(0, 10);
}

// ----- queries ------------------------------------------------------------------------------

function range() {
  // datetime-local values carry no offset: the server takes them as UTC, as the labels say.
  return {from: $('f-from').value, to: $('f-to').value};
}

function figuresQuery(format) {
  const q = new URLSearchParams({...range(), by: $('f-by').value, short_abandon: $('f-short').value,
                                 fcr_days: $('f-fcr').value});
  if ($('f-group').value) q.set('group', $('f-group').value);
  if (format) q.set('format', format);
  return q;
}

// ----- charts -------------------------------------------------------------------------------

function chart(name, container, xs, series, yLabel) {
  if (S.charts[name]) { S.charts[name].destroy(); delete S.charts[name]; }
  container.replaceChildren();
  if (!xs.length) { container.append(el('p', {class: 'muted', text: 'Nothing in this range.'})); return; }
  const opts = {
    width: Math.max(320, container.clientWidth || 800), height: 240,
    scales: {x: {time: true}},
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),  // periods are UTC, as the table
    axes: [{}, {label: yLabel}],
    series: [{}, ...series.map((s, i) => ({label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
                                           points: {show: true}, spanGaps: false}))],
  };
  S.charts[name] = new uPlot(opts, [xs, ...series.map((s) => s.values)], container);
  container.dataset.series = String(series.length);
  container.dataset.points = String(xs.length);
}

// ----- figures ------------------------------------------------------------------------------

function figureRow(r, by) {
  const cell = (v) => el('td', {class: 'num', text: v});
  return el('tr', {'data-testid': 'figures-row', 'data-group': r.group ?? '', 'data-bucket': String(r.bucket)},
    el('td', {text: period(r.bucket, by)}), el('td', {text: r.group ?? 'all'}),
    cell(r.offered), cell(r.answered), cell(r.abandoned), cell(r.short_abandoned),
    el('td', {class: 'num', 'data-testid': 'service-level', text: pct(r.service_level)}),
    cell(secs(r.average_speed_of_answer)), cell(secs(r.average_handle_time)), cell(r.transfers), cell(r.holds),
    el('td', {class: 'num', 'data-testid': 'fcr',
              text: r.fcr_contacts ? `${pct(r.first_contact_resolution)} of ${r.fcr_contacts}` : '–'}),
    el('td', {class: 'num', 'data-testid': 'csat',
              text: r.csat_count ? `${r.csat_average.toFixed(2)} (${r.csat_count})` : '–'}));
}

async function loadFigures() {
  const body = await api('GET', `/api/reports/figures?${figuresQuery()}`);
  $('figures-rows').replaceChildren(...body.rows.map((r) => figureRow(r, body.by)));
  const metric = $('f-metric').value;
  const xs = [...new Set(body.rows.map((r) => r.bucket))].sort((a, b) => a - b);
  const groups = [...new Set(body.rows.map((r) => r.group ?? 'all'))].sort();
  const series = groups.map((g) => ({label: g, values: xs.map((x) => {
    const row = body.rows.find((r) => r.bucket === x && (r.group ?? 'all') === g);
    return row && typeof row[metric] === 'number' ? row[metric] : null;
  })}));
  chart('figures', $('figures-chart'), xs, series, $('f-metric').selectedOptions[0].textContent);
}

async function downloadCsv() {
  // The token rides in a header, never in a URL: fetch the CSV, then hand it to the browser.
  const resp = await fetch(`/api/reports/figures?${figuresQuery('csv')}`, {
    headers: {'Authorization': `Bearer ${current(S.token)}`, 'Accept': 'text/csv'}});
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch (exc) { data = null; }
    throw new ApiError(resp.status, data);
  }
  const url = URL.createObjectURL(await resp.blob());
  const link = el('a', {href: url, download: 'report.csv', hidden: true});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ----- trends -------------------------------------------------------------------------------

async function loadTrends() {
  const q = new URLSearchParams({...range(), top: '10'});
  const body = await api('GET', `/api/reports/trends?${q}`);
  $('trends-head').replaceChildren(el('tr', {}, el('th', {text: 'Reason'}),
    ...body.weeks.map((w) => el('th', {text: `wk ${period(w, 'day')}`})), el('th', {text: 'Total'}),
    el('th', {text: 'Change'})));
  $('trends-rows').replaceChildren(...body.rows.map((t) => el('tr', {'data-testid': 'trend', 'data-reason': t.reason},
    el('td', {text: t.reason}), ...t.counts.map((c) => el('td', {class: 'num', text: c})),
    el('td', {class: 'num', text: t.total}),
    el('td', {class: `num ${t.change > 0 ? 'up' : t.change < 0 ? 'down' : ''}`,
              text: t.change > 0 ? `+${t.change}` : String(t.change)}))));
  chart('trends', $('trends-chart'), body.weeks, body.rows.slice(0, 6).map((t) => ({
    label: t.reason, values: t.counts})), 'contacts');
}

// ----- journey ------------------------------------------------------------------------------

async function loadJourney(customerId) {
  const body = await api('GET', `/api/reports/journey/${encodeURIComponent(customerId)}`);
  $('journey-who').textContent = `${body.display_name || body.customer_id}: ${body.steps.length} contact(s); ` +
    `first-contact window ${body.fcr_days} days`;
  const resolved = (s) => (s.first_contact_resolved === null ? '–'
    : s.first_contact_resolved ? 'yes' : `no (came back: ${s.repeated_by})`);
  $('journey-rows').replaceChildren(...body.steps.map((s) => el('tr', {'data-testid': 'journey-step',
    'data-channel': s.channel, 'data-outcome': s.outcome},
    el('td', {text: new Date(s.arrived_at * 1000).toISOString().slice(0, 16).replace('T', ' ')}),
    el('td', {text: `${s.channel}${s.direction === 'outbound' ? ' (outbound)' : ''}`}),
    el('td', {class: 'outcome', text: s.outcome}), el('td', {text: s.queues.join(' → ')}),
    el('td', {text: s.agents.join(' → ')}), el('td', {class: 'num', text: secs(s.wait)}),
    el('td', {class: 'num', text: secs(s.handle_time)}), el('td', {text: s.reasons.join(', ')}),
    el('td', {class: 'num', text: s.csat ?? '–'}), el('td', {'data-testid': 'fcr', text: resolved(s)}))));
}

// ----- the session --------------------------------------------------------------------------

async function loadAll() {
  for (const [load, what] of [[loadFigures, 'figures'], [loadTrends, 'trends']]) {
    try { await load(); } catch (err) { showError(err, what); }
  }
}

async function start() {
  try { S.me = await api('GET', '/api/me'); } catch (err) { return; }
  if (S.me.role !== 'supervisor' && S.me.role !== 'admin') {
    logout('This page is for supervisors and admins.');
    return;
  }
  $('who').textContent = S.me.name || S.me.id;
  session.show(true);
  if (!$('f-from').value) {
    const hour = 3_600_000;
    const end = Math.ceil(Date.now() / hour) * hour;
    $('f-to').value = isoMinute(end);
    $('f-from').value = isoMinute(end - 7 * 24 * hour);
  }
  await loadAll();
}

const session = staffSession({S, tokenKey: TOKEN_KEY, views: ['who', 'logout', 'reports'], api, start,
                                   onMessage: () => {}});
const logout = session.logout;

$('figures-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadAll();
});
$('f-metric').addEventListener('change', () => loadFigures().catch((err) => showError(err, 'figures')));
$('f-csv').addEventListener('click', () => downloadCsv().catch((err) => showError(err, 'CSV')));
$('journey-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadJourney($('j-customer').value.trim()).catch((err) => showError(err, 'journey'));
});
if (S.token) start();
