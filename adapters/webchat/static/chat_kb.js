// Self-service in the chat widget: before the visitor's first message opens a conversation (and
// an agent is offered it), public help articles that match it are shown. The visitor can say an
// article solved the problem (the chat ends as self-served: nothing is queued), that it helped but
// they still want a person, or go straight to a person. Only public parts ever come here
// (/chat/kb/suggest); what the visitor says is counted on the article (/chat/kb/feedback).
// Page text is always inserted as text, never as HTML.

const SUGGEST = '/chat/kb/suggest';
const FEEDBACK = '/chat/kb/feedback';
const WAIT_MS = 4000;  // a slow answer must not keep the visitor from a person

function node(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') n.className = value;
    else if (key === 'text') n.textContent = String(value);
    else n.setAttribute(key, String(value));
  }
  for (const child of children) n.append(child);
  return n;
}

async function fetchArticles(text) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), WAIT_MS);
  try {
    const r = await fetch(`${SUGGEST}?q=${encodeURIComponent(text.slice(0, 500))}`,
                          {signal: controller.signal, credentials: 'same-origin'});
    if (!r.ok) return [];
    const body = await r.json();
    return Array.isArray(body.articles) ? body.articles : [];
  } catch (exc) {
    return [];  // no suggestions is never worse than no chat
  } finally {
    clearTimeout(timer);
  }
}

function tell(articleId, outcome) {
  // Counted on the server; a lost count must not stop the visitor.
  fetch(FEEDBACK, {method: 'POST', headers: {'Content-Type': 'application/json'},
                   body: JSON.stringify({article_id: articleId, outcome})}).catch(() => {});
}

function panel() {
  let box = document.getElementById('chat-kb');
  if (!box) {
    box = node('section', {id: 'chat-kb', class: 'kb', 'data-testid': 'chat-kb',
                           'aria-label': 'Articles that may help', 'aria-live': 'polite'});
    const compose = document.getElementById('compose');
    compose.parentNode.insertBefore(box, compose);
  }
  box.replaceChildren();
  box.hidden = false;
  return box;
}

function closePanel() {
  const box = document.getElementById('chat-kb');
  if (box) {
    box.replaceChildren();
    box.hidden = true;
  }
}

function showSolved(title) {
  const box = panel();
  box.dataset.state = 'solved';
  box.append(node('p', {class: 'kb-solved', 'data-testid': 'chat-kb-solved',
                        text: `Glad “${title}” solved it. You can close this window, or type `
                              + 'another question below.'}));
}

function showArticles(question, articles, toAgent) {
  const box = panel();
  box.dataset.state = 'suggested';
  box.append(node('p', {class: 'kb-intro',
                        text: 'Before we connect you to a person, these articles may answer your question:'}),
             node('blockquote', {class: 'kb-question', 'data-testid': 'chat-kb-question', text: question}));
  const list = node('ul', {class: 'kb-list'});
  for (const a of articles) {
    const body = node('div', {class: 'kb-body', 'data-testid': 'chat-kb-body', text: a.body || ''});
    body.hidden = true;
    const open = node('button', {type: 'button', class: 'kb-title', 'data-testid': 'chat-kb-title',
                                 'aria-expanded': 'false', text: a.title});
    open.addEventListener('click', () => {
      body.hidden = !body.hidden;
      open.setAttribute('aria-expanded', String(!body.hidden));
    });
    const solved = node('button', {type: 'button', class: 'primary', 'data-testid': 'chat-kb-solved-button',
                                   text: 'This solved my problem'});
    solved.addEventListener('click', () => {
      tell(a.id, 'solved');
      showSolved(a.title);
    });
    const helped = node('button', {type: 'button', 'data-testid': 'chat-kb-helped-button',
                                   text: 'It helped, but I still need a person'});
    helped.addEventListener('click', () => {
      tell(a.id, 'helped');
      closePanel();
      toAgent();
    });
    const link = node('a', {href: a.url, target: '_blank', rel: 'noopener', class: 'kb-link',
                            text: 'Open in a new tab'});
    list.append(node('li', {'data-testid': 'chat-kb-article', 'data-article-id': a.id},
                     open, body, node('div', {class: 'kb-actions'}, solved, helped, link)));
  }
  const agent = node('button', {type: 'button', 'data-testid': 'chat-kb-agent',
                                text: 'No, talk to a person'});
  agent.addEventListener('click', () => {
    closePanel();
    toAgent();
  });
  box.append(list, node('div', {class: 'kb-actions'}, agent));
  const first = box.querySelector('.kb-title');
  if (first) first.focus();
}

// The widget's one call: ``send`` sends ``text`` as the first message (it opens the conversation
// and queues it for an agent). Articles come first when any match; otherwise it is sent at once.
export function suggestBeforeAgent(text, send) {
  closePanel();
  fetchArticles(text).then((articles) => {
    if (articles.length === 0) send(text);
    else showArticles(text, articles, () => send(text));
  });
}
