// A wallboard link for a wall screen: minted here (POST /api/wallboard-tokens), it opens the
// read-only /wallboard of my teams and nothing else. The link is shown once, to copy to the screen.
import {el} from '../shared/dom.js';
import {addEvent, api, mount, on, showError} from './board.js';

const link = el('a', {'data-testid': 'wallboard-link', target: '_blank', rel: 'noopener', hidden: true,
                      text: 'open the wallboard'});
const make = el('button', {type: 'button', 'data-testid': 'wallboard-mint', text: 'New wallboard link'});
mount('board-end', el('section', {class: 'card', 'aria-labelledby': 'wallboard-title'},
  el('h2', {id: 'wallboard-title', text: 'Wallboard'}),
  el('p', {class: 'muted', text: 'A link for a wall screen: it shows your teams\' queues, read-only, for 30 days.'}),
  el('div', {class: 'controls'}, make, link)));

make.addEventListener('click', async () => {
  make.disabled = true;
  try {
    const minted = await api('POST', '/api/wallboard-tokens', {});
    link.href = minted.url;
    link.hidden = false;
    addEvent('a wallboard link was made');
  } catch (err) { showError(err, 'wallboard link'); } finally { make.disabled = false; }
});
on('board.logout', () => { link.hidden = true; link.removeAttribute('href'); });
