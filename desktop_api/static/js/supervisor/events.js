// The "Live" list: each event the board hears, in words.
import {fmtSeconds as fmt} from '../shared/format.js';
import {S, addEvent, on} from './board.js';

const fmtSeconds = (s) => fmt(s) || '—';

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

on('board.message', (msg) => {
  const text = describe(msg);
  if (text) addEvent(text);
});
