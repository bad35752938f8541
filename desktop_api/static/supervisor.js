(() => {
  'use strict';

  const TOKEN_KEY = 'cti.supervisor.token';
  const STATES = ['available', 'away', 'busy', 'offline'];
  const MONITOR_MODES = ['listen', 'whisper', 'barge'];
  const MAX_EVENTS = 40;
  const QUEUE_REFRESH_MS = 5000;
  const SL_GOAL = 0.8;

  const S = {token: sessionStorage.getItem(TOKEN_KEY), me: null, ws: null, wanted: false, retry: 0,
             agents: new Map(), work: new Map(), chosen: new Map(), stats: null, statsAt: 0, voice: false,
             refreshTimer: null, tick: null};
  const $ = (id) => document.getElementById(id);

  const {el} = Desk;
  const fmtSeconds = (s) => Desk.fmtSeconds(s) || '—';

  function showError(err, context) {
    const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': err.error_id || 'error'},
      el('code', {text: err.error_id || 'error'}),
      context ? `${context}: ${err.message || 'failed'}` : (err.message || 'failed'));
    $('errors').prepend(node);
    while ($('errors').children.length > 5) $('errors').lastElementChild.remove();
    setTimeout(() => node.remove(), 10000);
  }

  const api = Desk.restClient(() => S.token, () => logout('Your session has expired; please log in again.'));

  // ----- queues -------------------------------------------------------------------------

  function renderQueues() {
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

  async function refreshQueues() {
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

  // ----- agents -------------------------------------------------------------------------

  function loadText(agent) {
    const parts = [];
    for (const [channel, cap] of Object.entries(agent.capacity || {})) {
      if (!cap) continue;
      parts.push(`${channel} ${(agent.load || {})[channel] || 0}/${cap}`);
    }
    return parts.join(' · ') || '—';
  }

  function agentRow(agent) {
    // The rows are rebuilt by every refresh: a state chosen but not yet set must survive that.
    const chosen = S.chosen.get(agent.id) || agent.state;
    const select = el('select', {'data-testid': 'state-select', 'aria-label': `state of ${agent.id}`,
                                 onchange: () => S.chosen.set(agent.id, select.value)},
      STATES.map((s) => el('option', {value: s, text: s, selected: s === chosen})));
    const apply = el('button', {type: 'button', 'data-testid': 'state-apply', text: 'Set',
      onclick: async () => {
        apply.disabled = true;
        const state = select.value;
        try {
          const reason = state === 'away' ? 'supervisor' : undefined;
          const view = await api('PUT', `/api/agents/${encodeURIComponent(agent.id)}/state`, {state, reason});
          S.chosen.delete(agent.id);
          upsertAgent(view);
        } catch (err) { showError(err, `set ${agent.id}`); } finally { apply.disabled = false; }
      }});
    const onCall = ((agent.load || {}).voice || 0) > 0;
    const monitor = MONITOR_MODES.map((mode) => {
      const button = el('button', {type: 'button', 'data-testid': `monitor-${mode}`, text: mode,
        disabled: !(S.voice && onCall),
        title: S.voice ? (onCall ? `${mode} on your phone` : 'not on a call') : 'no telephony link',
        onclick: async () => {
          button.disabled = true;
          try {
            await api('POST', `/api/agents/${encodeURIComponent(agent.id)}/monitor`, {mode});
            addEvent(`you ${mode} to ${agent.name || agent.id}: your phone rings`);
          } catch (err) { showError(err, `${mode} ${agent.id}`); } finally { button.disabled = false; }
        }});
      return button;
    });
    return el('tr', {'data-testid': 'agent-row', 'data-agent': agent.id},
      el('td', {}, el('strong', {text: agent.name || agent.id}), ' ', el('span', {class: 'muted', text: agent.id})),
      el('td', {}, el('span', {class: 'pill', 'data-testid': 'agent-state', 'data-state': agent.state,
                               text: agent.reason ? `${agent.state} (${agent.reason})` : agent.state})),
      el('td', {class: 'num', 'data-testid': 'agent-load', text: loadText(agent)}),
      el('td', {'data-testid': 'agent-work'}, workOf(agent.id)),
      el('td', {}, el('div', {class: 'controls'}, select, apply)),
      el('td', {}, el('div', {class: 'controls'}, monitor)));
  }

  // What each agent holds now: channel, state and how long (offered, talking, wrapping up).
  function workOf(agentId) {
    const now = Date.now() / 1000;
    const items = (S.work.get(agentId) || []).map((i) => {
      const since = i.state === 'offered' ? i.offered_at : (i.answered_at || i.offered_at || i.arrived_at);
      return el('span', {class: 'work', 'data-testid': 'work-item', 'data-channel': i.channel, 'data-state': i.state},
        `${i.channel} ${i.state.replace('_', ' ')} ${fmtSeconds(now - since)}`);
    });
    if (!items.length) return '—';
    return items.flatMap((node, n) => (n ? [' · ', node] : [node]));
  }

  async function refreshWork() {
    try {
      const open = await api('GET', '/api/interactions?state=offered,active,wrap_up&limit=200');
      S.work = new Map();
      for (const i of open || []) {
        if (!i.agent_id) continue;
        if (!S.work.has(i.agent_id)) S.work.set(i.agent_id, []);
        S.work.get(i.agent_id).push(i);
      }
      renderAgents();
    } catch (err) { showError(err, 'work'); }
  }

  function renderAgents() {
    const rows = [...S.agents.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id))
      .map(agentRow);
    $('agents').replaceChildren(...rows);
  }

  function upsertAgent(view) {
    if (!view || !view.id) return;
    S.agents.set(view.id, view);
    renderAgents();
  }

  async function refreshAgent(agentId) {
    if (!S.agents.has(agentId)) return;  // not on my team
    try { upsertAgent(await api('GET', `/api/agents/${encodeURIComponent(agentId)}`)); }
    catch (err) { showError(err, `agent ${agentId}`); }
  }

  // ----- events -------------------------------------------------------------------------

  function addEvent(text) {
    const now = new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
    $('events').prepend(el('li', {'data-testid': 'event'}, el('span', {class: 'when', text: now}), text));
    while ($('events').children.length > MAX_EVENTS) $('events').lastElementChild.remove();
  }

  function describe(msg) {
    const who = msg.agent_id ? (S.agents.get(msg.agent_id) || {}).name || msg.agent_id : null;
    switch (msg.type) {
      case 'interaction.queued': {
        const i = msg.interaction || {};
        return `${i.channel} waiting in ${i.queue}${msg.requeued_because ? ` again (${msg.requeued_because})` : ''}`;
      }
      case 'interaction.offered': return `offered to ${who}`;
      case 'interaction.accepted': return `${who} accepted`;
      case 'interaction.offer_withdrawn': return `offer to ${who} withdrawn (${msg.why})`;
      case 'interaction.abandoned': return `a customer left after ${fmtSeconds(msg.waited)} waiting`;
      case 'interaction.closed': return `${who} completed: ${msg.disposition}`;
      case 'interaction.transferred': return `${who} transferred to ${msg.to_agent || msg.to_queue}`;
      case 'agent.state_changed': return `${who} is ${msg.state}${msg.by ? ` (set by ${msg.by})` : ''}`;
      case 'supervision.changed':
        return `${msg.supervisor_id} ${msg.active ? 'started' : 'stopped'} ${msg.mode} on ${who}`;
      default: return null;
    }
  }

  function handle(msg) {
    if (msg.type === 'hello') {
      S.agents = new Map((msg.agents || []).map((a) => [a.id, a]));
      S.stats = msg.queues; S.statsAt = Date.now();
      $('sl-title').textContent = `Service level (last ${fmtSeconds(msg.queues.service_level_window)})`;
      renderAgents(); renderQueues();
      refreshWork();
      return;
    }
    if (msg.type === 'lagged') { refreshQueues(); for (const id of S.agents.keys()) refreshAgent(id); return; }
    if (msg.type === 'agent.state_changed' && S.agents.has(msg.agent_id)) {
      upsertAgent({...S.agents.get(msg.agent_id), state: msg.state, reason: msg.reason});
    }
    if (msg.type.startsWith('interaction.')) {
      refreshQueuesSoon();
      if (msg.agent_id && msg.type !== 'interaction.offered') refreshAgent(msg.agent_id);
    }
    const text = describe(msg);
    if (text) addEvent(text);
  }

  // ----- connection ---------------------------------------------------------------------

  async function start() {
    try {
      S.me = await api('GET', '/api/me');
    } catch (err) { return; }
    if (S.me.role !== 'supervisor' && S.me.role !== 'admin') {
      logout('This page is for supervisors; agents use the agent desktop.');
      return;
    }
    try { S.voice = !!((await api('GET', '/api/voice')) || {}).configured; } catch (err) { S.voice = false; }
    $('who').textContent = S.me.name || S.me.id;
    session.show(true);
    S.wanted = true;
    session.connect();
    S.tick = setInterval(() => { renderQueues(); }, 1000);
    setInterval(() => { if (S.wanted) refreshQueues(); }, QUEUE_REFRESH_MS);
  }

  const session = Desk.staffSession({
    S, tokenKey: TOKEN_KEY, views: ['who', 'conn-status', 'logout', 'board'], api, start,
    onMessage: (msg) => {
      try { handle(msg); } catch (exc) { showError({error_id: 'client-error', message: String(exc)}); }
    },
    onLogout: () => clearInterval(S.tick),
  });
  const logout = session.logout;
  if (S.token) start();
})();
