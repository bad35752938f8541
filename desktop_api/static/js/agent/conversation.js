// A conversation the agent holds: messages and reply box (or the call panel), a note, complete
// with a disposition, transfer to a queue or an agent; and what the socket says of it.
import {$, el} from '../shared/dom.js';
import {api, mine, notice, on, send, showError} from './desk.js';
import {buildCallPanel, renderCallPanel} from './call.js';
import {addMessages, addNotes, customerName, items, registerView, removeItem,
        toConversation} from './items.js';
import {renderMessages, renderNotes} from './messages.js';

const DISPOSITIONS = ['resolved', 'follow-up', 'escalated', 'no-response'];

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

registerView('conversation', {build: buildConversation, update: renderConversationState,
                              container: 'conversations'});

// The queues the transfer box suggests.
async function loadQueues() {
  try {
    const stats = await api('GET', '/api/queues');
    const names = Object.keys((stats && stats.queues_configured) || {}).sort();
    $('queue-list').replaceChildren(...names.map((n) => el('option', {value: n})));
  } catch (exc) {
    // The transfer box still takes a typed queue name.
  }
}

on('desk.login', loadQueues);

on('interaction.accepted', (msg) => {
  if (!mine(msg)) return;
  toConversation(msg.interaction_id, msg.interaction);
});

on('interaction.transferred', (msg) => {
  if (!mine(msg)) return;
  const item = items.get(msg.interaction_id);
  if (!item) return;
  removeItem(msg.interaction_id);
  notice(`${customerName(item)} transferred to ${msg.to_agent ? 'agent ' + msg.to_agent : 'queue ' + msg.to_queue}.`);
});

on('interaction.wrap_up', (msg) => {
  const item = items.get(msg.interaction_id);
  if (!item) return;
  item.interaction = {...item.interaction, state: 'wrap_up',
                      customer_left: item.interaction.customer_left || msg.why === 'customer-left'};
  renderConversationState(item);
});

on('interaction.closed', (msg) => {
  const item = items.get(msg.interaction_id);
  if (!item) return;
  removeItem(msg.interaction_id);
  notice(`Conversation with ${customerName(item)} closed${msg.disposition ? ' (' + msg.disposition + ')' : ''}.`);
});

// A reply the customer will not get is an error the agent must see, with the channel's reason.
on('message.status', (msg) => {
  if (!mine(msg)) return;
  const item = items.get(msg.interaction_id);
  const who = item ? customerName(item) : 'the customer';
  if (msg.status === 'refused' || msg.status === 'failed' || msg.status === 'undelivered') {
    showError({error_id: `reply-${msg.status}`,
               message: `your reply to ${who} was not delivered (${msg.why || msg.status})`});
  }
});
