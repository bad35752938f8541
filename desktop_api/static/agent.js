(() => {
  'use strict';

  const TOKEN_KEY = 'cti.agent.token';
  const AGENT_KEY = 'cti.agent.id';
  const DISPOSITIONS = ['resolved', 'follow-up', 'escalated', 'no-response'];
  const MAX_ERRORS = 5;
  const NOTICE_MS = 8000;

  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    agentId: sessionStorage.getItem(AGENT_KEY),
    agent: null,
    ws: null,
    wsWanted: false,
    retry: 0,
    retryTimer: null,
    refSeq: 0,
    pending: new Map(),     // ref -> {label, onAck, onError}
    items: new Map(),       // interaction id -> item (an offer or a conversation)
  };

  const $ = (id) => document.getElementById(id);

  const {el, fmtSeconds} = Desk;

  function fmtTime(at) {
    if (typeof at !== 'number') return '';
    const d = new Date(at * 1000);
    const today = new Date();
    if (d.toDateString() === today.toDateString()) {
      return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
    }
    return d.toLocaleString([], {year: 'numeric', month: 'short', day: 'numeric',
                                 hour: '2-digit', minute: '2-digit'});
  }

  function badge(channel) {
    return el('span', {class: 'badge', 'data-channel': channel, 'data-testid': 'channel-badge',
                       text: channel || '?'});
  }

  // ----- errors and notices --------------------------------------------------------------

  function showError(err, context) {
    const box = $('errors');
    const errorId = (err && err.error_id) || 'error';
    const message = (err && err.message) || 'something went wrong';
    const node = el('div', {class: 'error', 'data-testid': 'error', 'data-error-id': errorId},
      el('code', {'data-testid': 'error-id', text: errorId}),
      el('span', {class: 'msg', 'data-testid': 'error-message',
                  text: context ? `${context}: ${message}` : message}),
      el('button', {type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss', text: '×',
                    onclick: () => node.remove()}));
    box.prepend(node);
    while (box.children.length > MAX_ERRORS) box.lastElementChild.remove();
  }

  function notice(text) {
    const node = el('div', {class: 'notice', 'data-testid': 'notice', text});
    $('notices').prepend(node);
    setTimeout(() => node.remove(), NOTICE_MS);
  }

  function clearMessages() {
    $('errors').replaceChildren();
    $('notices').replaceChildren();
  }

  // ----- REST ----------------------------------------------------------------------------

  const api = Desk.restClient(() => S.token, () => logout('Your session has expired; please log in again.'));

  // ----- log-in, log-out, agent state ----------------------------------------------------

  async function onLogin(event) {
    event.preventDefault();
    const agentId = $('login-agent').value.trim();
    const password = $('login-password').value;
    $('login-error').textContent = '';
    $('login-submit').disabled = true;
    try {
      const data = await api('POST', '/api/login', {agent_id: agentId, password});
      S.token = data.token;
      S.agentId = data.agent.id;
      sessionStorage.setItem(TOKEN_KEY, S.token);
      sessionStorage.setItem(AGENT_KEY, S.agentId);
      $('login-password').value = '';
      enterDesk(data.agent);
    } catch (exc) {
      $('login-error').textContent = exc.error_id === 'bad-credentials'
        ? 'Unknown agent or wrong password.' : `${exc.error_id}: ${exc.message}`;
    } finally {
      $('login-submit').disabled = false;
    }
  }

  function enterDesk(agent) {
    $('login-view').hidden = true;
    for (const id of ['desk', 'who', 'state-form', 'conn-status', 'logout']) $(id).hidden = false;
    clearMessages();
    setAgent(agent);
    loadQueues();
    S.wsWanted = true;
    S.retry = 0;
    connect();
  }

  function logout(message) {
    S.wsWanted = false;
    clearTimeout(S.retryTimer);
    if (S.ws) { const ws = S.ws; S.ws = null; ws.close(1000, 'log out'); }
    failPending({error_id: 'disconnected', message: 'logged out'}, false);
    Desk.revoke(S.token);
    S.token = null; S.agentId = null; S.agent = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(AGENT_KEY);
    S.items.clear();
    $('offers').replaceChildren();
    $('conversations').replaceChildren();
    clearMessages();
    updateEmpty();
    for (const id of ['desk', 'who', 'state-form', 'conn-status', 'logout']) $(id).hidden = true;
    $('login-view').hidden = false;
    $('login-error').textContent = message || '';
    $('login-agent').focus();
  }

  function setAgent(agent) {
    if (!agent) return;
    S.agent = agent;
    $('agent-name').textContent = agent.name || agent.id;
    renderAgentState(agent.state, agent.reason);
  }

  function renderAgentState(state, reason) {
    const node = $('agent-state');
    node.dataset.state = state || 'offline';
    node.textContent = reason ? `${state} · ${reason}` : String(state || 'offline');
    const select = $('state-select');
    if ([...select.options].some((o) => o.value === state)) select.value = state;
    if (state === 'away' && reason && [...$('state-reason').options].some((o) => o.value === reason)) {
      $('state-reason').value = reason;
    }
    syncReason();
  }

  function syncReason() {
    $('state-reason').disabled = $('state-select').value !== 'away';
  }

  async function onApplyState(event) {
    event.preventDefault();
    const state = $('state-select').value;
    const body = {state};
    if (state === 'away') body.reason = $('state-reason').value;
    $('state-apply').disabled = true;
    try {
      const view = await api('PUT', `/api/agents/${encodeURIComponent(S.agentId)}/state`, body);
      setAgent(view);
    } catch (exc) {
      if (exc.status !== 401) showError(exc, 'state');
    } finally {
      $('state-apply').disabled = false;
    }
  }

  async function loadQueues() {
    try {
      const stats = await api('GET', '/api/queues');
      const names = Object.keys((stats && stats.queues_configured) || {}).sort();
      $('queue-list').replaceChildren(...names.map((n) => el('option', {value: n})));
    } catch (exc) {
      // The transfer box still takes a typed queue name.
    }
  }

  // ----- the socket ----------------------------------------------------------------------

  function setConn(state, text) {
    const node = $('conn-status');
    node.dataset.state = state;
    node.textContent = text || state;
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (!S.wsWanted || !S.token) return;
    const ws = Desk.ticketSocket('/ws/agent', () => S.token);
    let opened = false;
    S.ws = ws;
    setConn(S.retry ? 'reconnecting' : 'connecting', S.retry ? 'reconnecting…' : 'connecting…');
    ws.addEventListener('open', () => { opened = true; setConn('connected', 'connected'); });
    ws.addEventListener('message', (event) => {
      if (S.ws !== ws) return;
      let msg;
      try { msg = JSON.parse(event.data); } catch (exc) {
        showError({error_id: 'bad-frame', message: 'the server sent something that is not JSON'});
        return;
      }
      try { handle(msg); } catch (exc) {
        console.error('cannot handle', msg, exc);
        showError({error_id: 'client-error', message: String(exc && exc.message || exc)});
      }
    });
    ws.addEventListener('close', () => {
      if (S.ws !== ws) return;
      S.ws = null;
      failPending({error_id: 'disconnected', message: 'the connection dropped before an answer'}, true);
      if (!S.wsWanted) { setConn('closed', 'disconnected'); return; }
      if (!opened) {
        // A refused handshake may be an expired token: /api/me tells (and logs out on 401).
        api('GET', '/api/me').then(setAgent).catch(() => {});
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (!S.wsWanted) return;
    const base = Math.min(30000, 1000 * 2 ** Math.min(S.retry, 5));
    const delay = Math.round(base * (0.6 + Math.random() * 0.4));
    S.retry += 1;
    setConn('reconnecting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
    S.retryTimer = setTimeout(connect, delay);
  }

  function send(type, fields, {label, onAck, onError, button} = {}) {
    const ws = S.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      showError({error_id: 'not-connected', message: 'not connected to the server; retrying'}, label);
      return false;
    }
    const ref = `c${++S.refSeq}`;
    if (button) button.disabled = true;
    S.pending.set(ref, {
      label: label || type,
      onAck: (result) => { if (button) button.disabled = false; if (onAck) onAck(result); },
      onError: (err) => { if (button) button.disabled = false; if (onError) onError(err); },
    });
    ws.send(JSON.stringify({type, ref, ...fields}));
    return true;
  }

  function failPending(err, show) {
    const pending = [...S.pending.values()];
    S.pending.clear();
    for (const p of pending) {
      if (show) showError(err, p.label);
      p.onError(err);
    }
  }

  // ----- incoming messages ---------------------------------------------------------------

  const HANDLERS = {
    'hello': onHello,
    'interaction.offered': onOffered,
    'interaction.accepted': onAccepted,
    'interaction.offer_withdrawn': onWithdrawn,
    'interaction.abandoned': onAbandoned,
    'interaction.transferred': onTransferred,
    'message.added': onMessageAdded,
    'interaction.wrap_up': onWrapUp,
    'interaction.closed': onClosed,
    'agent.state_changed': onAgentState,
    'lagged': onLagged,
    'message.status': onMessageStatus,
    'call.updated': onCallUpdated,
    'ack': onAck,
    'error': onErrorMessage,
  };

  function handle(msg) {
    const handler = HANDLERS[msg && msg.type];
    if (handler) handler(msg);
  }

  function mine(msg) { return msg.agent_id === S.agentId; }

  function onHello(msg) {
    S.retry = 0;
    setAgent(msg.agent);
    $('dial-form').hidden = !msg.telephony;
    const pops = Array.isArray(msg.interactions) ? msg.interactions : [];
    const seen = new Set();
    for (const pop of pops) {
      if (!pop || !pop.interaction) continue;
      seen.add(pop.interaction.id);
      upsertFromPop(pop, null);
    }
    // Work that ended while the socket was down.
    for (const id of [...S.items.keys()]) if (!seen.has(id)) removeItem(id);
  }

  function onOffered(msg) {
    if (!mine(msg) || !msg.screen_pop) return;
    const lifetime = Math.max(0, (msg.expires_at - msg.at) * 1000);
    upsertFromPop(msg.screen_pop, {deadline: Date.now() + lifetime, reason: msg.reason || null});
    // A message stored while the offer was being made may be in neither the pop nor an event
    // addressed to this agent: look again shortly, while the offer is still open.
    for (const delay of [0, 800, 2500]) {
      setTimeout(() => {
        const item = S.items.get(msg.interaction_id);
        if (item && item.mode === 'offer') refreshDetail(msg.interaction_id);
      }, delay);
    }
  }

  function onAccepted(msg) {
    if (!mine(msg)) return;
    toConversation(msg.interaction_id, msg.interaction);
  }

  function onWithdrawn(msg) {
    if (!mine(msg)) return;
    const item = S.items.get(msg.interaction_id);
    if (!item || item.mode !== 'offer') return;
    removeItem(msg.interaction_id);
    notice(`Offer for ${customerName(item)} withdrawn (${msg.why}).`);
  }

  function onAbandoned(msg) {
    const item = S.items.get(msg.interaction_id);
    if (!item) return;
    removeItem(msg.interaction_id);
    notice(`${customerName(item)} left before the offer was answered.`);
  }

  function onTransferred(msg) {
    if (!mine(msg)) return;
    const item = S.items.get(msg.interaction_id);
    if (!item) return;
    removeItem(msg.interaction_id);
    notice(`${customerName(item)} transferred to ${msg.to_agent ? 'agent ' + msg.to_agent : 'queue ' + msg.to_queue}.`);
  }

  function onMessageAdded(msg) {
    const item = S.items.get(msg.interaction_id);
    if (!item || !msg.message) return;
    addMessages(item, [msg.message]);
    renderMessages(item);
  }

  function onWrapUp(msg) {
    const item = S.items.get(msg.interaction_id);
    if (!item) return;
    item.interaction = {...item.interaction, state: 'wrap_up',
                        customer_left: item.interaction.customer_left || msg.why === 'customer-left'};
    renderConversationState(item);
  }

  function onClosed(msg) {
    const item = S.items.get(msg.interaction_id);
    if (!item) return;
    removeItem(msg.interaction_id);
    notice(`Conversation with ${customerName(item)} closed${msg.disposition ? ' (' + msg.disposition + ')' : ''}.`);
  }

  function onAgentState(msg) {
    if (!mine(msg)) return;
    if (S.agent) S.agent = {...S.agent, state: msg.state, reason: msg.reason};
    renderAgentState(msg.state, msg.reason);
    if (msg.by) notice(`Your state was set to ${msg.state} by ${msg.by}.`);
  }

  // A reply the customer will not get is an error the agent must see, with the channel's reason.
  function onMessageStatus(msg) {
    if (!mine(msg)) return;
    const item = S.items.get(msg.interaction_id);
    const who = item ? customerName(item) : 'the customer';
    if (msg.status === 'refused' || msg.status === 'failed' || msg.status === 'undelivered') {
      showError({error_id: `reply-${msg.status}`,
                 message: `your reply to ${who} was not delivered (${msg.why || msg.status})`});
    }
  }

  const CALL_TEXT = {
    'ringing-agent': 'your phone is ringing', 'customer-answered': 'the customer answered',
    'held': 'call on hold', 'resumed': 'call resumed', 'recording-started': 'recording',
    'recording-paused': 'recording paused', 'recording-resumed': 'recording again',
    'recording-stopped': 'recording stopped', 'consult-started': 'consulting',
    'consult-cancelled': 'back with the caller', 'consult-incoming': 'a colleague is consulting you',
    'consult-answered': 'your colleague answered', 'consult-ended': 'the consult is over',
    'fallback': 'the caller went to the fallback queue',
  };

  // What Asterisk reports wins over what the buttons assumed.
  const CALL_STATE = {
    'held': {held: true}, 'resumed': {held: false}, 'recording-started': {recording: 'on'},
    'recording-resumed': {recording: 'on'}, 'recording-paused': {recording: 'paused'},
    'recording-stopped': {recording: null}, 'consult-cancelled': {consulting: null},
    'consult-ended': {consulting: null, held: false},
  };

  function onCallUpdated(msg) {
    if (!mine(msg)) return;
    const item = S.items.get(msg.interaction_id);
    notice(`${item ? customerName(item) : 'Call'}: ${CALL_TEXT[msg.what] || msg.what}`);
    if (item && item.call && CALL_STATE[msg.what]) {
      Object.assign(item.call, CALL_STATE[msg.what]);
      renderCallPanel(item);
    }
  }

  function onLagged() {
    notice('Some events were missed; reloading your work.');
    if (S.ws) S.ws.close(4000, 'resync');  // the close handler reconnects; hello resyncs
  }

  function onAck(msg) {
    const pending = S.pending.get(msg.ref);
    if (!pending) return;
    S.pending.delete(msg.ref);
    pending.onAck(msg.result);
  }

  function onErrorMessage(msg) {
    const pending = msg.ref != null ? S.pending.get(msg.ref) : undefined;
    if (pending) S.pending.delete(msg.ref);
    showError(msg, pending ? pending.label : undefined);
    if (pending) pending.onError(msg);
  }

  // ----- the work items ------------------------------------------------------------------

  function customerName(item) {
    const customer = item.pop && item.pop.customer;
    return (customer && customer.display_name) || 'Unknown customer';
  }

  function newItem(id) {
    return {id, pop: null, interaction: null, messages: new Map(), notes: new Map(),
            offer: null, mode: null, el: null, parts: {}};
  }

  function addMessages(item, messages) {
    for (const m of messages || []) if (m && m.id) item.messages.set(m.id, m);
  }

  function addNotes(item, notes) {
    for (const n of notes || []) if (n && n.id) item.notes.set(n.id, n);
  }

  function upsertFromPop(pop, offer) {
    const id = pop.interaction.id;
    const item = S.items.get(id) || newItem(id);
    S.items.set(id, item);
    item.pop = pop;
    item.interaction = pop.interaction;
    addMessages(item, pop.messages);
    addNotes(item, pop.notes);
    if (offer) item.offer = offer;
    const state = pop.interaction.state;
    if (state === 'offered') render(item, 'offer');
    else if (state === 'active' || state === 'wrap_up') render(item, 'conversation');
    else removeItem(id);
  }

  function toConversation(id, interaction) {
    let item = S.items.get(id);
    if (!item) {
      item = newItem(id);
      S.items.set(id, item);
      fetchPop(id);
    }
    if (interaction) item.interaction = interaction;
    item.offer = null;
    render(item, 'conversation');
    refreshDetail(id);
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

  // The screen pop of work this page did not see offered (accepted from another tab).
  async function fetchPop(id) {
    try {
      const pop = await api('GET', `/api/interactions/${encodeURIComponent(id)}/screen-pop`);
      const item = S.items.get(id);
      if (!item || !pop) return;
      item.pop = {...pop, routing: (item.pop && item.pop.routing) || pop.routing};
      addMessages(item, pop.messages);
      addNotes(item, pop.notes);
      render(item, item.mode);
    } catch (exc) { /* the socket will tell if it went away */ }
  }

  // Messages stored between the offer's screen pop and the socket's events are fetched once more.
  async function refreshDetail(id) {
    try {
      const detail = await api('GET', `/api/interactions/${encodeURIComponent(id)}`);
      const item = S.items.get(id);
      if (!item || !detail) return;
      addMessages(item, detail.messages);
      addNotes(item, detail.notes);
      renderMessages(item);
      renderNotes(item);
    } catch (exc) { /* withdrawn or closed meanwhile: nothing to refresh */ }
  }

  function removeItem(id) {
    const item = S.items.get(id);
    S.items.delete(id);
    if (item && item.el) item.el.remove();
    updateEmpty();
  }

  function updateEmpty() {
    const items = [...S.items.values()];
    $('offers-empty').hidden = items.some((i) => i.mode === 'offer');
    $('work-empty').hidden = items.some((i) => i.mode === 'conversation');
  }

  function render(item, mode) {
    if (item.mode !== mode || !item.el) {
      if (item.el) item.el.remove();
      item.mode = mode;
      item.parts = {};
      item.el = mode === 'offer' ? buildOffer(item) : buildConversation(item);
      $(mode === 'offer' ? 'offers' : 'conversations').append(item.el);
    }
    renderPop(item);
    renderMessages(item);
    renderNotes(item);
    if (mode === 'offer') renderCountdown(item);
    else renderConversationState(item);
    updateEmpty();
  }

  // ----- offers --------------------------------------------------------------------------

  function buildOffer(item) {
    const id = item.id;
    const p = item.parts;
    p.title = el('span', {class: 'title', 'data-testid': 'offer-customer'});
    p.countdown = el('span', {class: 'countdown', 'data-testid': 'offer-countdown'});
    p.accept = el('button', {type: 'button', class: 'primary', 'data-testid': 'accept', text: 'Accept',
                             onclick: () => send('accept', {interaction_id: id}, {
                               label: 'accept', button: p.accept,
                               onAck: (result) => toConversation(id, result),
                             })});
    p.reject = el('button', {type: 'button', class: 'danger', 'data-testid': 'reject', text: 'Reject',
                             onclick: () => send('reject', {interaction_id: id}, {
                               label: 'reject', button: p.reject,
                               onAck: () => { removeItem(id); notice('Offer rejected.'); },
                             })});
    p.channel = el('span');
    p.pop = el('div', {class: 'pop', 'data-testid': 'screen-pop', 'data-interaction-id': id});
    return el('article', {class: 'card offer', 'data-testid': 'offer', 'data-interaction-id': id},
      el('div', {class: 'card-head'}, p.channel, p.title, p.countdown),
      el('div', {class: 'offer-actions'}, p.accept, p.reject),
      p.pop);
  }

  function renderCountdown(item) {
    const node = item.parts.countdown;
    if (!node) return;
    if (!item.offer || !item.offer.deadline) {
      node.textContent = 'waiting';
      node.classList.remove('urgent');
      return;
    }
    const left = Math.max(0, Math.ceil((item.offer.deadline - Date.now()) / 1000));
    node.textContent = left > 0 ? `${left} s` : "time's up";
    node.classList.toggle('urgent', left <= 5);
  }

  setInterval(() => {
    for (const item of S.items.values()) if (item.mode === 'offer') renderCountdown(item);
  }, 250);

  // ----- the screen pop ------------------------------------------------------------------

  function renderPop(item) {
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

  function sortedMessages(item) {
    return [...item.messages.values()].sort((a, b) => (a.at || 0) - (b.at || 0));
  }

  function senderLabel(m) {
    if (m.sender === 'customer') return 'Customer';
    if (m.sender === 'system') return 'System';
    if (m.agent_id && m.agent_id === S.agentId) return 'You';
    return m.agent_id || 'Agent';
  }

  function renderMessages(item) {
    const p = item.parts;
    const messages = sortedMessages(item);
    if (p.popMessages) {
      p.popMessages.replaceChildren(...(messages.length ? messages.map((m) =>
        el('li', {'data-testid': 'pop-message', 'data-sender': m.sender},
          el('span', {class: 'muted', text: `${senderLabel(m)} · ${fmtTime(m.at)}: `}), m.body))
        : [el('li', {class: 'muted', text: 'No messages yet.'})]));
    }
    if (p.messages) {
      const list = p.messages;
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      list.replaceChildren(...messages.map((m) =>
        el('li', {'data-testid': 'message', 'data-sender': m.sender, 'data-message-id': m.id},
          el('span', {class: 'meta', text: `${senderLabel(m)} · ${fmtTime(m.at)}`}),
          messageBody(item, m))));
      if (atBottom) list.scrollTop = list.scrollHeight;
    }
  }

  // A file the customer sent is listed in the message as "[attachment] name (type, size) sha256:…";
  // that line becomes a button that downloads it (the API wants the token, so not a plain link).
  const ATTACHMENT_LINE = /^\[attachment\] (.+) \(([^,()]+), [^()]+\) (sha256:[0-9a-f]{64})$/;

  function messageBody(item, m) {
    const body = el('span', {class: 'body', 'data-testid': 'message-body'});
    const lines = String(m.body || '').split('\n');
    lines.forEach((line, n) => {
      const found = m.sender === 'customer' ? ATTACHMENT_LINE.exec(line) : null;
      if (found) {
        const [, filename, type, ref] = found;
        body.append(el('button', {type: 'button', class: 'attachment', 'data-testid': 'attachment',
                                  title: `${type}: download`, text: `📎 ${filename}`,
                                  onclick: () => download(item.id, ref, filename)}));
      } else {
        body.append(line);
      }
      if (n < lines.length - 1) body.append('\n');
    });
    return body;
  }

  async function download(interactionId, ref, filename) {
    try {
      const resp = await fetch(`/api/interactions/${encodeURIComponent(interactionId)}/attachments/${ref}`,
                               {headers: {'Authorization': `Bearer ${Desk.current(S.token)}`}});
      if (!resp.ok) {
        const err = await resp.json().catch(() => ({}));
        throw {error_id: err.error_id || `http-${resp.status}`, message: err.message || `HTTP ${resp.status}`};
      }
      const url = URL.createObjectURL(await resp.blob());
      const a = el('a', {href: url, download: filename, hidden: true});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      showError(err, `download ${filename}`);
    }
  }

  function renderNotes(item) {
    const list = item.parts.notes;
    if (!list) return;
    const notes = [...item.notes.values()].sort((a, b) => (a.at || 0) - (b.at || 0));
    list.replaceChildren(...(notes.length ? notes.map((n) =>
      el('li', {'data-testid': 'note'},
        el('span', {class: 'muted', text: `${n.author_id} · ${fmtTime(n.at)}: `}), n.body))
      : [el('li', {class: 'muted plain', text: 'No notes.'})]));
  }

  // ----- conversations -------------------------------------------------------------------

  function buildConversation(item) {
    const id = item.id;
    const p = item.parts;
    p.title = el('span', {class: 'title', 'data-testid': 'conversation-customer'});
    p.channel = el('span');
    p.state = el('span', {class: 'pill', 'data-testid': 'conversation-state'});
    p.banner = el('div', {class: 'banner', 'data-testid': 'customer-left', hidden: true, role: 'status',
                          text: 'The customer has left. Complete the conversation with a disposition.'});
    p.messages = el('ul', {class: 'messages', 'data-testid': 'messages', 'aria-live': 'polite'});

    p.replyInput = el('textarea', {'data-testid': 'reply-input', rows: 2, 'aria-label': 'Reply',
                                   placeholder: 'Reply to the customer (Enter sends, Shift+Enter: new line)'});
    p.replySend = el('button', {type: 'button', class: 'primary', 'data-testid': 'reply-send', text: 'Send'});
    const sendReply = () => {
      const body = p.replyInput.value;
      if (!body.trim()) return;
      send('reply', {interaction_id: id, body}, {
        label: 'reply', button: p.replySend,
        onAck: (message) => {
          if (p.replyInput.value === body) p.replyInput.value = '';
          addMessages(item, [message]);
          renderMessages(item);
        },
        onError: () => renderConversationState(item),
      });
    };
    p.replySend.addEventListener('click', sendReply);
    p.replyInput.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendReply();
      }
    });

    p.noteInput = el('input', {'data-testid': 'note-input', placeholder: 'Internal note', 'aria-label': 'Note'});
    p.noteSend = el('button', {type: 'button', 'data-testid': 'note-send', text: 'Add note'});
    p.noteSend.addEventListener('click', () => {
      const body = p.noteInput.value;
      if (!body.trim()) return;
      send('note', {interaction_id: id, body}, {
        label: 'note', button: p.noteSend,
        onAck: (note) => {
          if (p.noteInput.value === body) p.noteInput.value = '';
          addNotes(item, [note]);
          renderNotes(item);
        },
      });
    });

    p.disposition = el('select', {'data-testid': 'disposition', 'aria-label': 'Disposition'},
      el('option', {value: '', text: 'Disposition…'}),
      DISPOSITIONS.map((d) => el('option', {value: d, text: d})));
    p.completeNote = el('input', {'data-testid': 'complete-note', placeholder: 'Closing note (optional)',
                                  'aria-label': 'Closing note'});
    p.complete = el('button', {type: 'button', class: 'primary', 'data-testid': 'complete', text: 'Complete'});
    p.complete.addEventListener('click', () => {
      const disposition = p.disposition.value;
      if (!disposition) {
        showError({error_id: 'disposition-required', message: 'choose a disposition first'}, 'complete');
        p.disposition.focus();
        return;
      }
      const fields = {interaction_id: id, disposition};
      if (p.completeNote.value.trim()) fields.note = p.completeNote.value;
      send('complete', fields, {
        label: 'complete', button: p.complete,
        onAck: () => {
          removeItem(id);
          notice(`Conversation with ${customerName(item)} completed (${disposition}).`);
        },
      });
    });

    p.transferKind = el('select', {'data-testid': 'transfer-kind', 'aria-label': 'Transfer to'},
      el('option', {value: 'queue', text: 'to queue'}), el('option', {value: 'agent', text: 'to agent'}));
    p.transferTarget = el('input', {'data-testid': 'transfer-target', list: 'queue-list',
                                    placeholder: 'queue name', 'aria-label': 'Transfer target'});
    p.transferKind.addEventListener('change', () => {
      const toQueue = p.transferKind.value === 'queue';
      p.transferTarget.placeholder = toQueue ? 'queue name' : 'agent id';
      if (toQueue) p.transferTarget.setAttribute('list', 'queue-list');
      else p.transferTarget.removeAttribute('list');
    });
    p.transferNote = el('input', {'data-testid': 'transfer-note', placeholder: 'Note for the next agent',
                                  'aria-label': 'Transfer note'});
    p.transfer = el('button', {type: 'button', 'data-testid': 'transfer', text: 'Transfer'});
    p.transfer.addEventListener('click', () => {
      const target = p.transferTarget.value.trim();
      if (!target) {
        showError({error_id: 'transfer-target-required', message: 'give a queue or an agent id'}, 'transfer');
        p.transferTarget.focus();
        return;
      }
      const fields = {interaction_id: id};
      fields[p.transferKind.value === 'queue' ? 'queue' : 'agent_id'] = target;
      if (p.transferNote.value.trim()) fields.note = p.transferNote.value;
      send('transfer', fields, {
        label: 'transfer', button: p.transfer,
        onAck: () => {
          removeItem(id);
          notice(`${customerName(item)} transferred to ${target}.`);
        },
        onError: () => renderConversationState(item),
      });
    });

    p.pop = el('aside', {class: 'pop', 'data-testid': 'screen-pop', 'data-interaction-id': id});
    // A call has no written conversation: its controls stand where the messages would.
    const voice = (item.interaction || {}).channel === 'voice';
    const main = el('div', {class: 'conv-main'},
      voice ? buildCallPanel(item) : [p.messages, el('div', {class: 'compose'}, p.replyInput, p.replySend)],
      el('div', {class: 'actions'},
        el('div', {class: 'group'}, p.noteInput, p.noteSend),
        el('span', {class: 'sep'}),
        el('div', {class: 'group'}, p.disposition, p.completeNote, p.complete),
        el('span', {class: 'sep'}),
        el('div', {class: 'group'}, p.transferKind, p.transferTarget, p.transferNote, p.transfer)));
    return el('article', {class: 'card conversation', 'data-testid': 'conversation', 'data-interaction-id': id},
      el('div', {class: 'card-head'}, p.channel, p.title, p.state),
      p.banner, main, p.pop);
  }

  function renderConversationState(item) {
    const p = item.parts;
    if (!p.state) return;
    const interaction = item.interaction || {};
    const left = !!interaction.customer_left;
    p.state.textContent = String(interaction.state || '').replace('_', ' ');
    p.state.dataset.state = interaction.state || '';
    p.banner.hidden = !left;
    const canReply = interaction.state === 'active' && !left;
    p.replyInput.disabled = !canReply;
    p.replySend.disabled = !canReply;
    p.transfer.disabled = left;
    if (left && !p.disposition.value) p.disposition.value = 'no-response';
    renderCallPanel(item);
  }

  // ----- calls ---------------------------------------------------------------------------

  // Hold and consult work on Asterisk and Twilio calls (Twilio: through the call's conference);
  // recording pause and resume on Asterisk calls only.
  function buildCallPanel(item) {
    const id = item.id;
    const p = item.parts;
    const refs = ((item.interaction || {}).channel_refs) || {};
    const asterisk = !!refs.asterisk_channel;
    const twilio = !!(refs.twilio_call_sid || refs.twilio_outbound);
    item.call = item.call || {held: false, recording: null, consulting: null};
    const post = (path, body, label, button, done) => {
      button.disabled = true;
      api('POST', `/api/interactions/${encodeURIComponent(id)}${path}`, body)
        .then((result) => { if (done) done(result); })
        .catch((err) => showError(err, label))
        .finally(() => renderCallPanel(item));
    };
    p.callStatus = el('span', {class: 'call-status', 'data-testid': 'call-status'});
    p.hangup = el('button', {type: 'button', class: 'danger', 'data-testid': 'call-hangup', text: 'Hang up',
      onclick: () => post('/hangup', {}, 'hang up', p.hangup)});
    const panel = el('div', {class: 'call-panel', 'data-testid': 'call-panel'}, p.callStatus, p.hangup);
    if (!asterisk && !twilio) return panel;
    p.hold = el('button', {type: 'button', 'data-testid': 'call-hold',
      onclick: () => post('/hold', {hold: !item.call.held}, 'hold', p.hold,
                          (r) => { item.call.held = r.held; })});
    if (asterisk) p.record = el('button', {type: 'button', 'data-testid': 'call-record', onclick: () => {
      const action = {null: 'start', on: 'pause', paused: 'resume'}[item.call.recording];
      post('/recording', {action}, 'recording', p.record,
           () => { item.call.recording = action === 'pause' ? 'paused' : 'on'; });
    }});
    p.consultTarget = el('input', {'data-testid': 'consult-target', placeholder: 'agent id',
                                   'aria-label': 'Consult an agent'});
    p.consult = el('button', {type: 'button', 'data-testid': 'call-consult', text: 'Consult', onclick: () => {
      const target = p.consultTarget.value.trim();
      if (!target) { showError({error_id: 'consult-target-required', message: 'give an agent id'}, 'consult'); return; }
      post('/consult', {agent_id: target}, 'consult', p.consult, () => { item.call.consulting = target; });
    }});
    p.consultComplete = el('button', {type: 'button', 'data-testid': 'consult-complete', text: 'Hand over',
      onclick: () => post('/consult/complete', {}, 'hand over', p.consultComplete)});
    p.consultCancel = el('button', {type: 'button', 'data-testid': 'consult-cancel', text: 'Back to caller',
      onclick: () => post('/consult/cancel', {}, 'back to caller', p.consultCancel,
                          () => { item.call.consulting = null; })});
    panel.append(...[p.hold, p.record].filter(Boolean),
      el('span', {class: 'group'}, p.consultTarget, p.consult, p.consultComplete, p.consultCancel));
    return panel;
  }

  function renderCallPanel(item) {
    const p = item.parts;
    if (!p.callStatus) return;
    const call = item.call;
    const live = (item.interaction || {}).state === 'active';
    p.callStatus.textContent = !live ? 'call ended'
      : call.consulting ? `consulting ${call.consulting}; the caller is on hold`
      : call.held ? 'the caller is on hold' : 'on the call';
    p.hangup.disabled = !live;
    if (!p.hold) return;
    p.hold.textContent = call.held ? 'Resume' : 'Hold';
    if (p.record) {
      p.record.textContent = {null: 'Record', on: 'Pause recording', paused: 'Resume recording'}[call.recording];
    }
    for (const button of [p.hold, p.record, p.consult]) if (button) button.disabled = !live || !!call.consulting;
    p.consultTarget.disabled = !live || !!call.consulting;
    p.consultComplete.disabled = p.consultCancel.disabled = !live || !call.consulting;
  }

  // ----- start ---------------------------------------------------------------------------

  $('login-form').addEventListener('submit', onLogin);
  $('state-form').addEventListener('submit', onApplyState);
  $('dial-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const number = $('dial-number').value.trim();
    if (!number) return;
    $('dial-submit').disabled = true;
    try {
      // The call comes back as an accepted interaction on the socket, with its screen pop.
      await api('POST', '/api/calls', {number});
      $('dial-number').value = '';
    } catch (err) {
      showError(err, 'dial');
    } finally {
      $('dial-submit').disabled = false;
    }
  });
  $('state-select').addEventListener('change', syncReason);
  $('logout').addEventListener('click', () => logout(''));
  window.addEventListener('online', () => { if (S.wsWanted && !S.ws) { S.retry = 0; connect(); } });

  async function boot() {
    updateEmpty();
    if (!S.token || !S.agentId) { $('login-agent').focus(); return; }
    try {
      enterDesk(await api('GET', '/api/me'));
    } catch (exc) {
      if (exc.status !== 401) {
        // The server is unreachable: keep the token and let the socket retry.
        enterDesk({id: S.agentId, name: S.agentId, state: 'offline', reason: null});
      }
    }
  }
  boot();
})();
