// The totals and the queues table: waiting per channel, the longest wait (counted on between
// refreshes), the service level and the targets. Refreshed every few seconds and soon after
// any interaction event.
import {$, el} from '../shared/dom.js';
import {fmtSeconds as fmt} from '../shared/format.js';
import {S, api, on, showError} from './board.js';
import {refreshWork} from './agents.js';

const SL_GOAL = 0.8;
const fmtSeconds = (s) => fmt(s) || '—';

export function renderQueues() {
  const stats = S.stats;
  if (!stats) return;
  // Waits go on between refreshes: count them on from when the figures were taken.
  const since = (Date.now() - S.statsAt) / 1000;
  $('t-waiting').textContent = stats.waiting;
  $('t-offered').textContent = stats.offered;
  $('t-active').textContent = stats.active;
  $('t-available').textContent = (stats.agents_by_state || {}).available || 0;
  const rows = [];
  for (const [name, cfg] of Object.entries(stats.queues_configured || {})) {
    const waiting = (stats.waiting_by_queue || {})[name] || {};
    const total = Object.values(waiting).reduce((a, b) => a + b, 0);
    const oldest = (stats.oldest_wait || {})[name];
    const wait = typeof oldest === 'number' ? oldest + since : null;
    const targets = Object.entries(cfg.service_targets || {});
    const tightest = Math.min(...Object.keys(waiting).map((ch) => (cfg.service_targets || {})[ch])
      .filter((t) => typeof t === 'number'));
    rows.push(el('tr', {'data-testid': 'queue-row', 'data-queue': name},
      el('td', {text: name}),
      el('td', {class: 'num', 'data-testid': 'queue-waiting', 'data-count': total},
        total ? Object.entries(waiting).map(([ch, n]) => `${ch} ${n}`).join(' · ') : '0'),
      el('td', {class: wait !== null && wait > tightest ? 'num late' : 'num', 'data-testid': 'queue-oldest'},
        wait === null ? '—' : fmtSeconds(wait)),
      serviceLevelCell((stats.service_level || {})[name] || {}),
      el('td', {class: 'muted', text: targets.map(([ch, t]) => `${ch} ${fmtSeconds(t)}`).join(' · ')})));
  }
  $('queues').replaceChildren(...rows);
}

// Answered in target / (answered + abandoned after the target), per channel; the average
// speed of answer beside it. Below SL_GOAL is shown as late.
function serviceLevelCell(levels) {
  const parts = Object.entries(levels).filter(([, sl]) => sl.level !== null).map(([ch, sl]) => el('span',
    {class: sl.level < SL_GOAL ? 'late' : '', 'data-channel': ch,
     title: `${sl.answered_in_target} of ${sl.answered + sl.abandoned - sl.abandoned_in_target} in ` +
            `${fmtSeconds(sl.target)}; average answer ${fmtSeconds(sl.average_answer)}`},
    `${ch} ${Math.round(sl.level * 100)}%`));
  const cell = el('td', {class: 'num', 'data-testid': 'queue-service-level'});
  if (!parts.length) cell.textContent = '—';
  parts.forEach((part, n) => { if (n) cell.append(' · '); cell.append(part); });
  return cell;
}

export async function refreshQueues() {
  clearTimeout(S.refreshTimer);
  S.refreshTimer = null;
  try {
    S.stats = await api('GET', '/api/queues');
    S.statsAt = Date.now();
    renderQueues();
  } catch (err) { showError(err, 'queues'); }
  await refreshWork();
}

function refreshQueuesSoon() {
  // A burst of events makes one request, not one each.
  if (!S.refreshTimer) S.refreshTimer = setTimeout(refreshQueues, 250);
}

on('hello', (msg) => {
  S.stats = msg.queues; S.statsAt = Date.now();
  $('sl-title').textContent = `Service level (last ${fmtSeconds(msg.queues.service_level_window)})`;
  renderQueues();
});
on('lagged', () => { refreshQueues(); });
on('board.message', (msg) => { if (msg.type.startsWith('interaction.')) refreshQueuesSoon(); });
