// The sections of the configuration, each drawn as a form or as JSON editors.
import {el} from '../shared/dom.js';
import {CHANNELS, NAMED, S, api, change, parseJson, showError} from './console.js';

function numberInput(value, attrs) {
  return el('input', {type: 'number', min: '0', step: 'any', value: value === undefined ? '' : String(value),
                      ...attrs});
}

export function renderQueues() {
  const hours = Object.keys(S.doc.business_hours || {});
  const rows = (S.doc.queues || []).map((q) => {
    const targets = Object.fromEntries(CHANNELS.map((ch) => [ch, numberInput((q.service_targets || {})[ch],
      {'data-testid': `target-${q.name}-${ch}`, 'aria-label': `${q.name} ${ch} service target (s)`})]));
    const priority = numberInput(q.priority, {min: '1', max: '10', step: '1', 'data-testid': `priority-${q.name}`,
                                              'aria-label': `${q.name} priority`});
    const select = el('select', {'data-testid': `hours-${q.name}`, 'aria-label': `${q.name} business hours`},
      el('option', {value: '', text: 'always open'}),
      hours.map((h) => el('option', {value: h, text: h, selected: q.hours === h})));
    const save = () => {
      const serviceTargets = {};
      for (const [ch, input] of Object.entries(targets)) if (input.value !== '') serviceTargets[ch] = Number(input.value);
      change('PATCH', `/api/admin/queues/${encodeURIComponent(q.name)}`,
             {service_targets: serviceTargets, priority: Number(priority.value), hours: select.value || null},
             `queue ${q.name}`);
    };
    return el('tr', {'data-testid': 'queue-row', 'data-queue': q.name},
      el('td', {text: q.name}), el('td', {}, priority), CHANNELS.map((ch) => el('td', {}, targets[ch])),
      el('td', {}, select),
      el('td', {}, el('button', {type: 'button', class: 'primary', 'data-testid': `save-${q.name}`,
                                  onclick: save, text: 'Save'})));
  });
  return [
    el('table', {'data-testid': 'queues'},
      el('thead', {}, el('tr', {}, el('th', {text: 'queue'}), el('th', {text: 'priority 1–10'}),
        CHANNELS.map((ch) => el('th', {text: `${ch} target (s)`})), el('th', {text: 'hours'}), el('th'))),
      el('tbody', {}, rows)),
    el('h3', {text: 'Skills, teams, overflow rules (as JSON)'}),
    namedEditors('queues'),
  ];
}

// Items of a named section as JSON, each saved whole (PUT) or deleted; a new one by name.
export function namedEditors(section) {
  const key = NAMED[section];
  const entries = section === 'business_hours'
    ? Object.entries(S.doc.business_hours || {})
    : (S.doc[section] || []).map((item) => [item[key], item]);
  const path = (name) => `/api/admin/${section}/${encodeURIComponent(name)}`;
  const editors = entries.map(([name, item]) => {
    const body = {...item};
    if (key) delete body[key];
    const text = el('textarea', {'data-testid': `json-${section}-${name}`, 'aria-label': `${name} as JSON`,
                                 value: JSON.stringify(body, null, 2)});
    return el('details', {'data-testid': `item-${section}-${name}`},
      el('summary', {text: name}), text,
      el('button', {type: 'button', class: 'primary', text: 'Save', onclick: () => {
        const data = parseJson(text.value, name);
        if (data) change('PUT', path(name), data, name);
      }}),
      el('button', {type: 'button', text: 'Delete', onclick: () => change('DELETE', path(name), undefined, name)}));
  });
  const name = el('input', {'data-testid': `new-${section}-name`, 'aria-label': 'name', placeholder: 'name'});
  const text = el('textarea', {'data-testid': `new-${section}-json`, 'aria-label': 'new item as JSON', value: '{}'});
  const create = el('button', {type: 'button', text: 'Add', onclick: () => {
    const data = parseJson(text.value, name.value);
    if (data && name.value.trim()) change('PUT', path(name.value.trim()), data, name.value);
  }});
  return el('div', {}, editors, el('h4', {text: 'Add'}), name, text, create);
}

export async function renderSkills() {
  const skills = await api('GET', '/api/admin/skills');
  return [el('p', {class: 'muted', text: 'Skills are set on queues (required) and agents (levels 1–10).'}),
    el('table', {'data-testid': 'skills'},
      el('thead', {}, el('tr', {}, el('th', {text: 'skill'}), el('th', {text: 'queues'}), el('th', {text: 'agents'}))),
      el('tbody', {}, Object.entries(skills).map(([skill, used]) => el('tr', {},
        el('td', {text: skill}), el('td', {text: used.queues.join(', ')}), el('td', {text: used.agents.join(', ')})))))];
}

export function listEditor(section, label) {
  const text = el('textarea', {'data-testid': `list-${section}`, 'aria-label': label,
                               value: (S.doc[section] || []).join('\n')});
  return el('div', {}, el('h3', {text: label}), el('p', {class: 'muted', text: 'One per line.'}), text,
    el('button', {type: 'button', class: 'primary', text: 'Save', onclick: () => change('PUT', `/api/admin/${section}`,
      {value: text.value.split('\n').map((s) => s.trim()).filter(Boolean)}, label)}));
}

export function objectEditor(section, label) {
  const text = el('textarea', {'data-testid': `object-${section}`, 'aria-label': label,
                               value: JSON.stringify(S.doc[section] || {}, null, 2)});
  return el('div', {}, el('h3', {text: label}), text,
    el('button', {type: 'button', class: 'primary', text: 'Save', onclick: () => {
      const data = parseJson(text.value, label);
      if (data) change('PUT', `/api/admin/${section}`, {value: data}, label);
    }}));
}

export async function renderVersions() {
  const listing = await api('GET', '/api/admin/versions');
  const detail = el('pre', {class: 'summary', 'data-testid': 'version-diff'});
  const rows = listing.versions.map((v) => el('tr', {'data-testid': 'version-row', 'data-version': v.version},
    el('td', {text: v.version}), el('td', {text: new Date(v.at * 1000).toLocaleString()}),
    el('td', {text: v.actor}), el('td', {text: v.action}),
    el('td', {}, el('pre', {class: 'summary', text: v.summary.slice(0, 6).join('\n')})),
    el('td', {},
      el('button', {type: 'button', text: 'Diff', onclick: async () => {
        try { detail.textContent = (await api('GET', `/api/admin/versions/${v.version}/diff`)).changes.join('\n'); }
        catch (err) { showError(err, 'diff'); }
      }}),
      el('button', {type: 'button', 'data-testid': `rollback-${v.version}`, disabled: v.version === listing.running,
                    text: 'Roll back to this',
                    onclick: () => change('POST', `/api/admin/versions/${v.version}/rollback`, undefined, 'rollback')}))));
  return [el('table', {'data-testid': 'versions'},
    el('thead', {}, el('tr', {}, ['version', 'when', 'by', 'how', 'what changed', ''].map((t) => el('th', {text: t})))),
    el('tbody', {}, rows)), detail];
}
