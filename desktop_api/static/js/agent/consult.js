// Warm transfer of a chat: "Consult…" on a chat asks another agent privately (they see the
// transcript), both talk in a small thread on their desks, then the holder hands the chat over
// (an ordinary transfer: the other agent gets the offer). The customer sees nothing of it.
import {el} from '../shared/dom.js';
import {api, mount, notice, on, send, showError} from './desk.js';

const threads = new Map();  // consult id -> {node, log, input}

function line(who, body) {
  return el('li', {class: 'consult-line', 'data-testid': 'consult-line'}, el('strong', {text: `${who}: `}), body);
}

// The thread both agents see; ``holder`` adds the hand-over button.
function thread(consult, {title, holder, transcript}) {
  const log = el('ul', {class: 'consult-log', 'data-testid': 'consult-log', 'aria-live': 'polite'});
  const input = el('input', {'data-testid': 'consult-input', 'aria-label': 'Message to the other agent',
                             placeholder: 'Private to the other agent'});
  const say = () => {
    const body = input.value;
    if (!body.trim()) return;
    send('consult_say', {consult_id: consult.id, body}, {label: 'consult', onAck: () => {
      input.value = '';
      log.append(line('You', body));
    }});
  };
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); say(); } });
  const buttons = [
    el('button', {type: 'button', 'data-testid': 'consult-send', text: 'Send', onclick: say}),
    holder ? el('button', {type: 'button', class: 'primary', 'data-testid': 'consult-hand-over', text: 'Hand over',
                           onclick: () => send('consult_hand_over', {consult_id: consult.id},
                                               {label: 'hand over'})}) : null,
    el('button', {type: 'button', 'data-testid': 'consult-end', text: 'End consult',
                  onclick: () => send('consult_end', {consult_id: consult.id}, {label: 'end consult'})}),
  ];
  const node = el('section', {class: 'consult', 'data-testid': 'consult', 'data-consult-id': consult.id,
                              'aria-label': title},
    el('h3', {text: title}),
    transcript ? el('details', {'data-testid': 'consult-transcript'}, el('summary', {text: 'Transcript'}),
      el('ul', {}, transcript.map((m) => line(m.sender, m.body)))) : null,
    log, el('div', {class: 'compose'}, input, ...buttons));
  threads.set(consult.id, {node, log, input});
  return {node, log, input};
}

async function openAsk(item) {
  const p = item.parts;
  if (p.consultAsk && !p.consultAsk.hidden) { p.consultAsk.hidden = true; return; }
  let body;
  try {
    body = await api('GET', `/api/transfer-targets?interaction_id=${encodeURIComponent(item.id)}`);
  } catch (exc) { showError(exc, 'consult'); return; }
  const who = el('select', {'data-testid': 'consult-agent', 'aria-label': 'Agent to consult'},
    body.agents.filter((a) => a.can_take).map((a) => el('option', {value: a.id, text: a.name})));
  const question = el('input', {'data-testid': 'consult-question', 'aria-label': 'Question',
                                placeholder: 'What to ask'});
  const ask = el('button', {type: 'button', 'data-testid': 'consult-ask', text: 'Ask', disabled: !who.options.length,
    onclick: () => send('consult_start', {interaction_id: item.id, agent_id: who.value,
                                          ...(question.value.trim() ? {body: question.value} : {})}, {
      label: 'consult', button: ask,
      onAck: (consult) => {
        p.consultAsk.hidden = true;
        const t = thread(consult, {title: `Consult with ${who.selectedOptions[0].textContent}`, holder: true});
        if (question.value.trim()) t.log.append(line('You', question.value));
        p.consultAsk.after(t.node);
        t.input.focus();
      },
    })});
  const box = el('div', {class: 'consult-ask', 'data-testid': 'consult-ask-box'},
    who.options.length ? [who, question, ask] : el('p', {class: 'empty', text: 'No one can take it now.'}));
  if (p.consultAsk) p.consultAsk.replaceWith(box); else p.transfer.parentElement.after(box);
  p.consultAsk = box;
  who.focus();
}

on('desk.item', ({item, mode}) => {
  const p = item.parts;
  if (mode !== 'conversation' || p.consult || !p.transfer || (item.interaction || {}).channel !== 'chat') return;
  p.consult = el('button', {type: 'button', 'data-testid': 'consult-open', text: 'Consult…',
                            onclick: () => openAsk(item)});
  p.transfer.after(p.consult);
});

on('consult.started', (msg) => {
  const t = thread({id: msg.consult_id}, {title: `${msg.from_agent} asks about ${msg.customer_name || 'a customer'}`,
                                          holder: false, transcript: msg.transcript || []});
  if (msg.body) t.log.append(line(msg.from_agent, msg.body));
  mount('offers-top', t.node);
  notice(`${msg.from_agent} consults you about ${msg.customer_name || 'a chat'}.`);
});

on('consult.message', (msg) => {
  const t = threads.get(msg.consult_id);
  if (t) t.log.append(line(msg.from_agent, msg.body));
});

on('consult.ended', (msg) => {
  const t = threads.get(msg.consult_id);
  if (!t) return;
  threads.delete(msg.consult_id);
  t.node.remove();
  notice(msg.why === 'handed-over' ? 'The chat was handed over.' : 'The consult ended.');
});

on('desk.logout', () => { for (const t of threads.values()) t.node.remove(); threads.clear(); });
