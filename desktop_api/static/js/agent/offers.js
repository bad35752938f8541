// Offers: the card with its countdown, accept and reject, and what the socket says of an offer.
import {el} from '../shared/dom.js';
import {mine, notice, on, send} from './desk.js';
import {customerName, items, refreshDetail, registerView, removeItem, toConversation,
        upsertFromPop} from './items.js';

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

registerView('offer', {build: buildOffer, update: renderCountdown, container: 'offers'});

setInterval(() => {
  for (const item of items.values()) if (item.mode === 'offer') renderCountdown(item);
}, 250);

on('interaction.offered', (msg) => {
  if (!mine(msg) || !msg.screen_pop) return;
  const lifetime = Math.max(0, (msg.expires_at - msg.at) * 1000);
  upsertFromPop(msg.screen_pop, {deadline: Date.now() + lifetime, reason: msg.reason || null});
  // A message stored while the offer was being made may be in neither the pop nor an event
  // addressed to this agent: look again shortly, while the offer is still open.
  for (const delay of [0, 800, 2500]) {
    setTimeout(() => {
      const item = items.get(msg.interaction_id);
      if (item && item.mode === 'offer') refreshDetail(msg.interaction_id);
    }, delay);
  }
});

on('interaction.offer_withdrawn', (msg) => {
  if (!mine(msg)) return;
  const item = items.get(msg.interaction_id);
  if (!item || item.mode !== 'offer') return;
  removeItem(msg.interaction_id);
  notice(`Offer for ${customerName(item)} withdrawn (${msg.why}).`);
});

on('interaction.abandoned', (msg) => {
  const item = items.get(msg.interaction_id);
  if (!item) return;
  removeItem(msg.interaction_id);
  notice(`${customerName(item)} left before the offer was answered.`);
});
