// Telling the agent about a new offer: a short tone (WebAudio, no sound file), a browser
// notification when the page is hidden and the agent allowed them, the tab's title, and the
// offers region announced to screen readers. The countdown survives a reload: the hello carries
// each open offer's deadline. After an accept the focus goes to the conversation's reply box.
import {$, el} from '../shared/dom.js';
import {mine, mount, on} from './desk.js';
import {customerName, items, render} from './items.js';

const TITLE = document.title;
let audio = null;

function tone() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (exc) { /* no audio device or not allowed yet: the other signs remain */ }
}

function updateTitle() {
  const offers = [...items.values()].filter((i) => i.mode === 'offer').length;
  document.title = offers ? `(${offers}) New offer – ${TITLE}` : TITLE;
}

function browserNotice(item) {
  if (!('Notification' in window) || Notification.permission !== 'granted' || !document.hidden) return;
  const note = new Notification('New offer', {body: customerName(item), tag: item.id});
  note.onclick = () => { window.focus(); note.close(); };
}

const allow = el('button', {type: 'button', 'data-testid': 'notify-allow', text: 'Enable notifications',
                            hidden: !('Notification' in window) || Notification.permission !== 'default'});
allow.addEventListener('click', async () => {
  try { await Notification.requestPermission(); } finally { allow.hidden = Notification.permission !== 'default'; }
  tone();  // a user gesture: the audio context may start from now on
});
mount('header-tools', allow);

// The offers list is announced as cards arrive (the cards' text says who and on which channel).
$('offers').setAttribute('aria-live', 'polite');
$('offers').setAttribute('aria-relevant', 'additions');

on('interaction.offered', (msg) => {
  if (!mine(msg)) return;
  const item = items.get(msg.interaction_id);
  tone();
  if (item) browserNotice(item);
  updateTitle();
});

on('hello', (msg) => {
  for (const offer of Array.isArray(msg.offers) ? msg.offers : []) {
    const item = items.get(offer.interaction_id);
    if (!item || typeof offer.expires_at !== 'number' || typeof msg.at !== 'number') continue;
    item.offer = {...(item.offer || {}), deadline: Date.now() + Math.max(0, offer.expires_at - msg.at) * 1000};
    render(item, 'offer');
  }
  updateTitle();
});

// An offer that becomes a conversation here was accepted: its reply box takes the focus.
const offered = new Set();
on('desk.item', ({item, mode}) => {
  updateTitle();
  if (mode === 'offer') { offered.add(item.id); return; }
  if (mode !== 'conversation' || !offered.delete(item.id)) return;
  const reply = item.parts.replyInput;
  const target = reply && !reply.disabled ? reply : item.el;
  if (target === item.el) item.el.setAttribute('tabindex', '-1');
  setTimeout(() => target.focus(), 0);
});
on('desk.item.removed', updateTitle);
on('desk.logout', () => { document.title = TITLE; });
