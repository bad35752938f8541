// The chat's inline survey (an ES module of its own): after an agent closes the conversation the
// server's "closed" status carries a signed, single-use token; the visitor rates 1-5 with an
// optional comment, posted as JSON to /survey/<token> (the same endpoint the e-mail link opens).
// Built with DOM calls only: text is never inserted as HTML.

function node(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

function say(box, text, state) {
  const out = box.querySelector('[data-testid=chat-survey-result]');
  out.textContent = text;
  out.dataset.state = state;
}

async function submit(box, token, event) {
  event.preventDefault();
  const form = event.target;
  const picked = form.querySelector('input[name=rating]:checked');
  if (!picked) { say(box, 'Pick a rating from 1 to 5.', 'error'); return; }
  const comment = form.querySelector('textarea').value.trim();
  form.querySelector('button').disabled = true;
  try {
    const response = await fetch(`/survey/${encodeURIComponent(token)}`, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({rating: Number(picked.value), comment: comment || null}),
    });
    const body = await response.json();
    if (response.ok || body.error_id === 'survey-already-answered') {
      form.hidden = true;
      say(box, 'Thank you for your answer!', 'done');
    } else {
      say(box, body.message || 'The answer was not accepted.', 'error');
      form.querySelector('button').disabled = false;
    }
  } catch (err) {
    say(box, 'The answer could not be sent; try again.', 'error');
    form.querySelector('button').disabled = false;
  }
}

export function offerSurvey(token) {
  const pane = document.getElementById('chat-pane');
  if (!pane) return;
  const earlier = pane.querySelector('[data-testid=chat-survey]');
  if (earlier) earlier.remove();  // a later conversation's survey replaces the earlier one
  const choices = [1, 2, 3, 4, 5].map((n) => node('label', {class: 'survey-choice'},
    node('input', {type: 'radio', name: 'rating', value: String(n), 'data-testid': `chat-survey-${n}`}),
    ` ${n}`));
  const form = node('form', {class: 'survey-form'},
    node('fieldset', {}, node('legend', {text: 'How did we do? 1 (poor) to 5 (excellent)'}), ...choices),
    node('textarea', {rows: '2', maxlength: '1000', 'aria-label': 'Anything to add? (optional)',
      placeholder: 'Anything to add? (optional)', 'data-testid': 'chat-survey-comment'}),
    node('button', {type: 'submit', class: 'primary', 'data-testid': 'chat-survey-send', text: 'Send rating'}));
  const box = node('section', {class: 'survey', 'data-testid': 'chat-survey', 'aria-label': 'Rate this chat'},
    form, node('p', {'data-testid': 'chat-survey-result', role: 'status', 'aria-live': 'polite'}));
  form.addEventListener('submit', (event) => submit(box, token, event));
  pane.insertBefore(box, document.getElementById('compose'));
}
