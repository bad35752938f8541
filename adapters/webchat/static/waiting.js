// The waiting panel of the chat widget: the visitor's place in the queue, an estimated wait, and
// the callback offer once the queue's maximum wait has passed (docs/websocket.md, "queue_status").
// A module of its own so the widget's other parts stay apart; chat.js hands it every frame.

const PANEL_ID = 'chat-waiting';

function node(tag, attrs, text) {
  const n = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) n.setAttribute(key, String(value));
  if (text !== undefined) n.textContent = text;
  return n;
}

function minutes(seconds) {
  if (seconds < 60) return 'less than a minute';
  const m = Math.round(seconds / 60);
  return m === 1 ? 'about 1 minute' : `about ${m} minutes`;
}

function ordinal(position) {
  return position === 1 ? 'You are next in line.' : `You are number ${position} in the queue.`;
}

// Built once, after the status line: no markup of its own in chat.html.
function panel(send) {
  let box = document.getElementById(PANEL_ID);
  if (box) return box;
  box = node('section', {id: PANEL_ID, class: 'waiting', 'data-testid': PANEL_ID, 'aria-live': 'polite',
                         'aria-label': 'Your place in the queue'});
  box.hidden = true;
  const position = node('p', {'data-testid': 'chat-position'});
  const estimate = node('p', {'data-testid': 'chat-estimate'});
  const form = node('form', {class: 'callback', 'data-testid': 'chat-callback-form', novalidate: ''});
  form.hidden = true;
  form.append(
    node('p', {}, 'Nobody is free yet. Leave your e-mail or phone and we will get back to you: ' +
                  'you keep your place in the queue.'),
    node('label', {for: 'chat-callback-email'}, 'E-mail'),
    node('input', {id: 'chat-callback-email', 'data-testid': 'chat-callback-email', type: 'email',
                   autocomplete: 'email', maxlength: '254'}),
    node('label', {for: 'chat-callback-phone'}, 'Phone'),
    node('input', {id: 'chat-callback-phone', 'data-testid': 'chat-callback-phone', type: 'tel',
                   autocomplete: 'tel', maxlength: '40'}),
    node('button', {type: 'submit', class: 'primary', 'data-testid': 'chat-callback-send'}, 'Get back to me'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = form.querySelector('#chat-callback-email').value.trim();
    const phone = form.querySelector('#chat-callback-phone').value.trim();
    const frame = {type: 'callback'};
    if (email) frame.email = email;
    if (phone) frame.phone = phone;
    send(frame);
  });
  const booked = node('p', {'data-testid': 'chat-callback-booked', role: 'status'});
  booked.hidden = true;
  box.append(position, estimate, form, booked);
  document.getElementById('chat-status').after(box);
  return box;
}

function onQueueStatus(msg, send) {
  const box = panel(send);
  if (box.dataset.booked) return;
  box.hidden = false;
  box.querySelector('[data-testid=chat-position]').textContent = ordinal(msg.position);
  box.querySelector('[data-testid=chat-estimate]').textContent = typeof msg.estimated_wait === 'number'
    ? `Estimated wait: ${minutes(msg.estimated_wait)}.` : 'We cannot estimate the wait right now.';
  box.dataset.position = String(msg.position);
  box.querySelector('form').hidden = !msg.callback_offered;
}

// The conversation is closed once a callback is booked; its status line says why, not "closed".
function bookedStatus() {
  const status = document.getElementById('chat-status');
  status.dataset.state = 'callback';
  status.textContent = 'Your callback is booked. You may close this page.';
}

function onBooked(msg, send) {
  const box = panel(send);
  // The refusals of earlier tries (a mistyped number) no longer apply.
  for (const id of ['invalid-phone', 'invalid-email', 'callback-contact-required']) {
    for (const node of document.querySelectorAll(`[data-testid=chat-error][data-error-id=${id}]`)) node.remove();
  }
  bookedStatus();
  box.dataset.booked = 'yes';
  box.hidden = false;
  for (const id of ['chat-position', 'chat-estimate']) box.querySelector(`[data-testid=${id}]`).hidden = true;
  box.querySelector('form').hidden = true;
  const to = [msg.phone, msg.email].filter(Boolean).join(' or ');
  const booked = box.querySelector('[data-testid=chat-callback-booked]');
  booked.textContent = `Thank you: we will get back to you at ${to}, in the order you came.`;
  booked.hidden = false;
}

// Every frame the widget receives; only the waiting ones concern this panel.
export function onWaitingFrame(msg, send) {
  if (msg.type === 'queue_status') onQueueStatus(msg, send);
  else if (msg.type === 'callback_booked') onBooked(msg, send);
  else if (msg.type === 'status' && msg.state !== 'queued') {
    const box = document.getElementById(PANEL_ID);
    if (box && box.dataset.booked && msg.state === 'closed') queueMicrotask(bookedStatus);  // after chat.js
    else if (box) box.hidden = true;  // an agent joined, or the chat ended
  } else if (msg.type === 'welcome') {
    const box = document.getElementById(PANEL_ID);
    if (box && !msg.interaction_id) { box.hidden = true; delete box.dataset.booked; }
  }
}
