// The create-panel form: question, format, experts from the catalog or
// chosen for the caller, humans, documents, rounds, method, simulation.
// (Signing in is sign-in.js.)

import { clear, h, setText } from './dom.js';
import { METHOD_LABEL, PANEL_TYPES, TYPE_BY_ID, domainLabel } from './format.js';
import { api, randomId } from './api.js';
import { session } from './session.js';
import { documentsChooser } from './doc-chooser.js';
import { fieldError, mountView, showFieldError } from './view.js';

export function createView() {
  const tenant = session.tenant || {};
  const features = tenant.features || {};
  const types = PANEL_TYPES.filter((t) => !features.panel_types || features.panel_types.includes(t.id));
  const methods = features.consensus_methods || Object.keys(METHOD_LABEL);
  const simulated = Boolean(features.llm && features.llm.simulated);
  const maxExperts = (tenant.limits && tenant.limits.max_experts_per_panel) || 12;
  const idempotencyKey = randomId();
  const errors = {};
  const err = (name) => {
    errors[name] = fieldError(`err-${name}`);
    return errors[name];
  };

  // Question
  const query = h('textarea', { id: 'f-query', name: 'query', rows: 4, 'aria-describedby': 'help-query err-query', maxlength: 5000 });
  const queryCount = h('span', { class: 'count', 'aria-hidden': 'true', text: '0 / 5000' });
  query.addEventListener('input', () => setText(queryCount, `${query.value.length} / 5000`));

  // Type
  const typeRadios = types.map((t, i) =>
    h(
      'div',
      { class: 'choice' },
      h('input', { type: 'radio', name: 'panel_type', id: `type-${t.id}`, value: t.id, checked: i === 0, 'aria-describedby': `type-help-${t.id}` }),
      h('label', { for: `type-${t.id}`, class: 'choice-title', text: t.label }),
      h('p', { class: 'choice-help', id: `type-help-${t.id}`, text: `${t.help} (${t.bounds[0]}–${t.bounds[1]} members${t.id === 'hybrid' ? ', at least one human' : ''})` }),
    ),
  );
  const typeFieldset = h('fieldset', { class: 'field', id: 'f-panel_type', 'aria-describedby': 'err-panel_type' }, h('legend', { text: 'Panel type' }), h('div', { class: 'choices' }, typeRadios), err('panel_type'));
  const selectedType = () => (typeFieldset.querySelector('input[name=panel_type]:checked') || {}).value || 'structured';

  // Experts
  const modeAuto = h('input', { type: 'radio', name: 'expert_mode', id: 'mode-auto', value: 'auto', checked: true });
  const modePick = h('input', { type: 'radio', name: 'expert_mode', id: 'mode-pick', value: 'pick' });
  const count = h('input', { type: 'number', id: 'f-expert_count', name: 'expert_count', min: 1, max: maxExperts, value: 4, inputmode: 'numeric', 'aria-describedby': 'help-count err-expert_count' });
  const countHelp = h('p', { class: 'help', id: 'help-count' });
  const search = h('input', { type: 'search', id: 'f-expert-search', name: 'expert_search', autocomplete: 'off', 'aria-describedby': 'help-search', 'aria-controls': 'expert-results' });
  const results = h('ul', { class: 'expert-results', id: 'expert-results', 'aria-label': 'Catalog experts' });
  const resultsMsg = h('p', { class: 'help', role: 'status', id: 'expert-results-msg' });
  const picked = new Map();
  const pickedList = h('ul', { class: 'picked', 'aria-label': 'Chosen experts' });
  const pickedSummary = h('p', { class: 'help', id: 'picked-summary', 'aria-live': 'polite' });
  const pickBox = h(
    'div',
    { class: 'pick-box', hidden: true },
    h('label', { for: 'f-expert-search', text: 'Search the catalog' }),
    search,
    h('p', { class: 'help', id: 'help-search', text: 'By name, domain or topic, for example “reimbursement” or “privacy”.' }),
    resultsMsg,
    results,
    pickedSummary,
    pickedList,
  );
  const autoBox = h('div', { class: 'auto-box' }, h('label', { for: 'f-expert_count', text: 'How many AI experts' }), count, countHelp);
  const expertsFieldset = h(
    'fieldset',
    { class: 'field', id: 'f-experts', 'aria-describedby': 'err-experts' },
    h('legend', { text: 'Experts' }),
    h('div', { class: 'choices inline' }, h('div', { class: 'choice' }, modeAuto, h('label', { for: 'mode-auto', text: 'Choose for me' })), h('div', { class: 'choice' }, modePick, h('label', { for: 'mode-pick', text: 'Pick from the catalog' }))),
    autoBox,
    pickBox,
    err('expert_count'),
    err('experts'),
  );

  function renderPicked() {
    clear(pickedList);
    for (const ex of picked.values()) {
      pickedList.append(h('li', {}, h('span', { text: ex.name }), h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Remove ${ex.name}`, text: 'Remove', onclick: () => togglePick(ex, false) })));
    }
    pickedSummary.textContent = `${picked.size} expert${picked.size === 1 ? '' : 's'} chosen.`;
    for (const cb of results.querySelectorAll('input[type=checkbox]')) cb.checked = picked.has(cb.value);
  }

  function togglePick(ex, on) {
    if (on) picked.set(ex.id, ex);
    else picked.delete(ex.id);
    renderPicked();
  }

  let searchTimer = null;
  let searchSeq = 0;
  async function runSearch() {
    const mySeq = ++searchSeq;
    resultsMsg.textContent = 'Searching…';
    const q = new URLSearchParams({ limit: '50' });
    if (search.value.trim()) q.set('q', search.value.trim());
    try {
      const data = await api('GET', `/v1/experts?${q}`);
      if (mySeq !== searchSeq) return; // an older search answered late
      clear(results);
      for (const ex of data.items) {
        const cbId = `ex-${ex.id}`;
        results.append(
          h(
            'li',
            { class: 'expert' },
            h('input', { type: 'checkbox', id: cbId, value: ex.id, checked: picked.has(ex.id), onchange: (e) => togglePick(ex, e.target.checked) }),
            h('label', { for: cbId }, h('span', { class: 'expert-name', text: ex.name }), h('span', { class: 'expert-title', text: [ex.title, domainLabel(ex.domain)].filter(Boolean).join(' · ') }), ex.scope === 'tenant' ? h('span', { class: 'tag', text: 'private' }) : null),
          ),
        );
      }
      resultsMsg.textContent = `${data.items.length} expert${data.items.length === 1 ? '' : 's'} found.`;
    } catch (e) {
      resultsMsg.textContent = `Could not search: ${e.message}`;
    }
  }
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  let searched = false;
  function syncMode() {
    const pick = modePick.checked;
    pickBox.hidden = !pick;
    autoBox.hidden = pick;
    if (pick && !searched) {
      searched = true;
      runSearch();
    }
  }
  modeAuto.addEventListener('change', syncMode);
  modePick.addEventListener('change', syncMode);

  // Humans (hybrid)
  const humansList = h('ol', { class: 'humans' });
  let humanCount = 0;
  function addHuman(name = '') {
    humanCount += 1;
    const n = humanCount;
    const nameInput = h('input', { type: 'text', id: `human-name-${n}`, class: 'human-name', value: name, autocomplete: 'off' });
    const keyInput = h('input', { type: 'text', id: `human-key-${n}`, class: 'human-key', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'help-human-key' });
    const li = h(
      'li',
      { class: 'human-row' },
      h('div', { class: 'field-inline' }, h('label', { for: `human-name-${n}`, text: 'Name' }), nameInput),
      h('div', { class: 'field-inline' }, h('label', { for: `human-key-${n}`, text: 'Key id (optional)' }), keyInput),
      h('button', {
        type: 'button',
        class: 'btn btn-small btn-quiet',
        text: 'Remove',
        'aria-label': `Remove human member ${n}`,
        onclick: () => {
          li.remove();
          addHumanBtn.focus();
        },
      }),
    );
    humansList.append(li);
    return nameInput;
  }
  const addHumanBtn = h('button', { type: 'button', class: 'btn btn-small', text: 'Add a human member', onclick: () => addHuman().focus() });
  const baseFlow = h('select', { id: 'f-base_flow', name: 'base_flow', 'aria-describedby': 'err-base_flow' }, ['structured', 'open', 'socratic', 'adversarial', 'delphi'].map((t) => h('option', { value: t, text: TYPE_BY_ID[t].label })));
  const timeout = h('input', { type: 'number', id: 'f-human_turn_timeout_s', name: 'human_turn_timeout_s', min: 10, placeholder: '300', inputmode: 'numeric', 'aria-describedby': 'err-human_turn_timeout_s' });
  const hybridBox = h(
    'fieldset',
    { class: 'field', id: 'f-humans', hidden: true, 'aria-describedby': 'err-humans' },
    h('legend', { text: 'Human members' }),
    h('p', { class: 'help', id: 'help-human-key', text: 'Without a key id any member key of your organisation may speak for them; moderators always can.' }),
    humansList,
    addHumanBtn,
    err('humans'),
    h('div', { class: 'field' }, h('label', { for: 'f-base_flow', text: 'Base format the humans join' }), baseFlow, err('base_flow')),
    h('div', { class: 'field' }, h('label', { for: 'f-human_turn_timeout_s', text: 'Seconds a human has for a turn' }), timeout, err('human_turn_timeout_s')),
  );
  addHuman('');

  // Documents (shown once the tenant's ready documents have loaded)
  const docs = documentsChooser(err('documents'));

  // Rounds and method
  const rounds = h('input', { type: 'number', id: 'f-max_rounds', name: 'max_rounds', min: 1, max: 20, inputmode: 'numeric', 'aria-describedby': 'help-rounds err-max_rounds' });
  const method = h('select', { id: 'f-consensus_method', name: 'consensus_method', 'aria-describedby': 'err-consensus_method' }, methods.map((m) => h('option', { value: m, text: METHOD_LABEL[m] || m })));

  // Simulation knobs (only meaningful with the simulated model)
  const simSeed = h('input', { type: 'number', id: 'f-sim-seed', min: 0, value: 1, inputmode: 'numeric' });
  const simPace = h('input', { type: 'number', id: 'f-sim-pace', min: 0, step: 'any', value: 20, inputmode: 'decimal', 'aria-describedby': 'help-pace' });
  const simTokens = h('input', { type: 'number', id: 'f-sim-tokens', min: 1, value: 60, inputmode: 'numeric' });
  const simBox = simulated
    ? h(
        'fieldset',
        { class: 'field sim', id: 'f-simulation', 'aria-describedby': 'err-simulation' },
        h('legend', { text: 'Simulated experts' }),
        h('p', { class: 'help', text: 'This server runs simulated experts (no language model). Their text is labelled as simulated.' }),
        h('div', { class: 'grid3' }, h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-seed', text: 'Seed' }), simSeed), h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-pace', text: 'Tokens per second' }), simPace), h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-tokens', text: 'Words per turn' }), simTokens)),
        h('p', { class: 'help', id: 'help-pace', text: '0 streams each turn at once.' }),
        err('simulation'),
      )
    : null;

  const summary = h('div', { class: 'error-summary', id: 'error-summary', tabindex: '-1', hidden: true, role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-submit', text: 'Start the panel' });

  function syncType() {
    const t = TYPE_BY_ID[selectedType()];
    const hybrid = t.id === 'hybrid';
    hybridBox.hidden = !hybrid;
    countHelp.textContent = hybrid ? `A hybrid panel has ${t.bounds[0]}–${t.bounds[1]} members in all, humans included.` : `A ${t.label.toLowerCase()} panel has ${t.bounds[0]}–${Math.min(t.bounds[1], maxExperts)} experts.`;
    const minAi = hybrid ? Math.max(1, t.bounds[0] - 1) : t.bounds[0];
    if (!count.dataset.touched) count.value = String(Math.max(minAi, hybrid ? 2 : 4));
    rounds.placeholder = t.id === 'delphi' ? '4' : '3';
  }
  count.addEventListener('input', () => {
    count.dataset.touched = '1';
  });
  typeFieldset.addEventListener('change', syncType);

  const form = h(
    'form',
    { class: 'create-form', novalidate: true, 'aria-labelledby': 'create-h' },
    h('h1', { id: 'create-h', text: 'New panel' }),
    summary,
    h('div', { class: 'field' }, h('label', { for: 'f-query', text: 'Question for the panel' }), query, h('p', { class: 'help', id: 'help-query' }, 'A clear, answerable question, 10 to 5000 characters. ', queryCount), err('query')),
    typeFieldset,
    expertsFieldset,
    hybridBox,
    docs.el,
    h('div', { class: 'grid2' }, h('div', { class: 'field' }, h('label', { for: 'f-max_rounds', text: 'Rounds at most' }), rounds, h('p', { class: 'help', id: 'help-rounds', text: 'Leave empty for the format’s default.' }), err('max_rounds')), h('div', { class: 'field' }, h('label', { for: 'f-consensus_method', text: 'Consensus method' }), method, err('consensus_method'))),
    simBox,
    err('questioner'),
    h('div', { class: 'actions' }, submit, h('a', { href: '#/panels', class: 'btn btn-quiet', text: 'Cancel' })),
  );

  // Resolved when errors show: the human rows and expert mode change meanwhile.
  const fieldTargets = () => ({
    query,
    panel_type: typeFieldset.querySelector('input'),
    experts: modePick.checked ? search : count,
    expert_count: count,
    humans: humansList.querySelector('input') || addHumanBtn,
    max_rounds: rounds,
    consensus_method: method,
    human_turn_timeout_s: timeout,
    base_flow: baseFlow,
    documents: docs.focusTarget(),
    simulation: simSeed,
    questioner: submit,
  });

  function clearErrors() {
    const targets = fieldTargets();
    for (const [name, el] of Object.entries(errors)) showFieldError(el, targets[name], null);
    search.removeAttribute('aria-invalid');
    summary.hidden = true;
    clear(summary);
  }

  function showErrors(e) {
    const shown = [];
    const loose = [];
    const targets = fieldTargets();
    for (const [field, message] of Object.entries(e.fields || {})) {
      const base = field.split(/[.[]/)[0];
      const target = targets[base];
      if (errors[base]) {
        showFieldError(errors[base], target, message);
        shown.push({ base, message, target });
      } else loose.push(`${field}: ${message}`);
    }
    // In the order of the form, not the server's.
    shown.sort((x, y) => (x.target && y.target && x.target.compareDocumentPosition(y.target) & Node.DOCUMENT_POSITION_PRECEDING ? 1 : -1));
    summary.append(h('h2', { text: shown.length + loose.length > 1 ? 'Please fix these problems' : 'Please fix this problem' }));
    const ul = h('ul');
    for (const { base, message, target } of shown) {
      const label = { query: 'Question', panel_type: 'Panel type', experts: 'Experts', expert_count: 'Experts', humans: 'Human members', max_rounds: 'Rounds', consensus_method: 'Consensus method', human_turn_timeout_s: 'Human turn time', base_flow: 'Base format', documents: 'Documents', simulation: 'Simulation', questioner: 'Questioner' }[base] || base;
      ul.append(h('li', {}, h('a', { href: `#${target ? target.id : ''}`, onclick: (ev) => {
        ev.preventDefault();
        if (target) target.focus();
      }, text: `${label}: ${message}` })));
    }
    for (const text of loose) ul.append(h('li', { text }));
    if (!shown.length && !loose.length) ul.append(h('li', { text: e.message }));
    summary.append(ul);
    summary.hidden = false;
    summary.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const type = selectedType();
    const body = { query: query.value.trim(), panel_type: type };
    if (modePick.checked) body.experts = [...picked.keys()];
    else if (count.value !== '') body.expert_count = Number(count.value);
    if (type === 'hybrid') {
      body.humans = [...humansList.querySelectorAll('li')].map((li) => {
        const name = li.querySelector('.human-name').value.trim();
        const keyId = li.querySelector('.human-key').value.trim();
        return keyId ? { name, key_id: keyId } : { name };
      });
      body.base_flow = baseFlow.value;
      if (timeout.value !== '') body.human_turn_timeout_s = Number(timeout.value);
    }
    const docsProblem = docs.check();
    if (docsProblem) {
      showErrors({ fields: { documents: docsProblem } });
      return;
    }
    const documents = docs.value();
    if (documents !== undefined) body.documents = documents;
    if (rounds.value !== '') body.max_rounds = Number(rounds.value);
    body.consensus_method = method.value;
    if (simBox) body.simulation = { seed: Number(simSeed.value || 1), pace_tokens_per_s: Number(simPace.value || 0), turn_tokens: Number(simTokens.value || 120) };
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const panel = await api('POST', '/v1/panels', body, { headers: { 'Idempotency-Key': idempotencyKey } });
      location.hash = `#/panels/${panel.id}`;
    } catch (e) {
      if (e.status === 422) showErrors(e);
      else {
        summary.append(h('h2', { text: 'The panel was not created' }), h('p', { text: e.message }));
        summary.hidden = false;
        summary.focus();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = 'Start the panel';
    }
  });

  mountView('New panel', form);
  syncType();
  syncMode();
  applyDefaults(form, { typeFieldset, rounds, method, timeout, syncType });
}

/**
 * The tenant's defaults for new panels (format, rounds, method, human turn
 * time) chosen in the form when they arrive, unless the person already
 * changed something.
 */
function applyDefaults(form, { typeFieldset, rounds, method, timeout, syncType }) {
  let touched = false;
  form.addEventListener('input', () => { touched = true; }, { once: true });
  form.addEventListener('change', () => { touched = true; }, { once: true });
  api('GET', '/v1/tenant/defaults').then((d) => {
    if (!d || touched || !form.isConnected) return;
    const radio = d.panel_type && typeFieldset.querySelector(`input[name=panel_type][value="${d.panel_type}"]`);
    if (radio) {
      radio.checked = true;
      syncType();
    }
    if (Number.isInteger(d.max_rounds)) rounds.value = String(d.max_rounds);
    if (d.consensus_method && [...method.options].some((o) => o.value === d.consensus_method)) method.value = d.consensus_method;
    if (Number.isInteger(d.human_turn_timeout_s)) timeout.value = String(d.human_turn_timeout_s);
  }).catch(() => {});
}
