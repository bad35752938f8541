// Calls: the panel that stands for the messages of a voice conversation (hang up, and the buttons
// the call's telephony path states: hold, recording, consult), click-to-dial, and the call's events.
import {$, el} from '../shared/dom.js';
import {api, mine, notice, on, showError} from './desk.js';
import {customerName, items} from './items.js';

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

// Which buttons a call gets beside hang-up and transfer ("hold", "record", "consult"), as each
// telephony path states it in the hello's call_controls: the first path one of whose channel
// references the call holds. A call no path claims gets hang-up only.
let paths = [];

function controlsOf(item) {
  const refs = ((item.interaction || {}).channel_refs) || {};
  const path = paths.find((p) => (p.refs || []).some((ref) => refs[ref]));
  return new Set((path && path.controls) || []);
}

// Every button is built; renderCallPanel shows those the call's path has.
export function buildCallPanel(item) {
  const id = item.id;
  const p = item.parts;
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
  p.hold = el('button', {type: 'button', 'data-testid': 'call-hold', hidden: true,
    onclick: () => post('/hold', {hold: !item.call.held}, 'hold', p.hold,
                        (r) => { item.call.held = r.held; })});
  p.record = el('button', {type: 'button', 'data-testid': 'call-record', hidden: true, onclick: () => {
    const action = {null: 'start', on: 'pause', paused: 'resume'}[item.call.recording];
    post('/recording', {action}, 'recording', p.record,
         () => { item.call.recording = action === 'pause' ? 'paused' : 'on'; });
  }});
  p.recordStop = el('button', {type: 'button', 'data-testid': 'call-record-stop', text: 'Stop recording',
    hidden: true, onclick: () => post('/recording', {action: 'stop'}, 'recording', p.recordStop,
                                      () => { item.call.recording = null; })});
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
  p.consultGroup = el('span', {class: 'group', hidden: true},
    p.consultTarget, p.consult, p.consultComplete, p.consultCancel);
  return el('div', {class: 'call-panel', 'data-testid': 'call-panel'},
    p.callStatus, p.hangup, p.hold, p.record, p.recordStop, p.consultGroup);
}

export function renderCallPanel(item) {
  const p = item.parts;
  if (!p.callStatus) return;
  const call = item.call;
  const can = controlsOf(item);
  const live = (item.interaction || {}).state === 'active';
  p.callStatus.textContent = !live ? 'call ended'
    : call.consulting ? `consulting ${call.consulting}; the caller is on hold`
    : call.held ? 'the caller is on hold' : 'on the call';
  p.hangup.disabled = !live;
  p.hold.hidden = !can.has('hold');
  p.record.hidden = !can.has('record');
  p.recordStop.hidden = !can.has('record') || !call.recording;
  p.consultGroup.hidden = !can.has('consult');
  p.hold.textContent = call.held ? 'Resume' : 'Hold';
  p.record.textContent = {null: 'Record', on: 'Pause recording', paused: 'Resume recording'}[call.recording];
  for (const button of [p.hold, p.record, p.recordStop, p.consult]) button.disabled = !live || !!call.consulting;
  p.consultTarget.disabled = !live || !!call.consulting;
  p.consultComplete.disabled = p.consultCancel.disabled = !live || !call.consulting;
}

on('call.updated', (msg) => {
  if (!mine(msg)) return;
  const item = items.get(msg.interaction_id);
  notice(`${item ? customerName(item) : 'Call'}: ${CALL_TEXT[msg.what] || msg.what}`);
  if (item && item.call && CALL_STATE[msg.what]) {
    Object.assign(item.call, CALL_STATE[msg.what]);
    renderCallPanel(item);
  }
});

// Click-to-dial shows when the server has a telephony link. The items were drawn from this hello
// already (items.js listens first): their call panels are drawn again with the paths' buttons.
on('hello', (msg) => {
  $('dial-form').hidden = !msg.telephony;
  paths = Array.isArray(msg.call_controls) ? msg.call_controls : [];
  for (const item of items.values()) renderCallPanel(item);
});

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
