// Follow-ups and re-runs: the line naming the panel this one continues
// (config.parent), the list of panels started from it (children), and the
// controls that start one: "Ask a follow-up" (a completed panel, a new
// question with this one's outcome as context) and "Re-run" (any ended panel,
// the same question with a new seed). Both take a member's key.

import { announcer, appendAll, clear, h, setText, uid } from './dom.js';
import { fmtDate } from './format.js';
import { api, randomId } from './api.js';
import { fieldError, showFieldError } from './view.js';

const RELATION = {
  follow_up: { parent: 'Follows up:', child: 'Follow-up' },
  rerun: { parent: 'Re-run of:', child: 'Re-run' },
};

const short = (text, n = 160) => (text.length > n ? `${text.slice(0, n - 10).trimEnd()}…` : text);

/**
 * Fills `el` (a <p>) with "Follows up: <the earlier question>", a link to
 * it when `link` (a shared view shows the words only: its link opens one panel).
 */
export function renderParent(el, parent, { link = true } = {}) {
  const sig = parent ? `${parent.id}|${parent.relation}|${link}` : '';
  if (el.dataset.sig === sig) return;
  el.dataset.sig = sig;
  clear(el);
  el.hidden = !parent;
  if (!parent) return;
  const words = (RELATION[parent.relation] || RELATION.follow_up).parent;
  const query = short(parent.query || 'an earlier panel');
  appendAll(el, h('span', { class: 'lineage-label', text: `${words} ` }), link ? h('a', { href: `#/panels/${parent.id}`, id: 'parent-link', dataset: { id: parent.id }, text: query }) : h('q', { text: query }));
}

/** The panels started from this one (GET /v1/panels/{id} `children`, oldest first) as links; hidden when none. */
export function renderChildren(el, children) {
  clear(el);
  el.hidden = !children.length;
  if (!children.length) return;
  const hId = uid('children-h');
  el.setAttribute('aria-labelledby', hId);
  appendAll(
    el,
    h('h2', { id: hId, class: 'small-h', text: 'Follow-ups and re-runs' }),
    h(
      'ul',
      { class: 'children', id: 'children' },
      children.map((c) => h('li', { dataset: { id: c.id, relation: c.relation } }, h('a', { href: `#/panels/${c.id}`, text: `${(RELATION[c.relation] || RELATION.follow_up).child} started ${fmtDate(c.created_at)}` }))),
    ),
  );
}

/**
 * The buttons and form that start a follow-up or a re-run of panel
 * `panelId` (`status`: completed panels take follow-ups; any ended panel
 * may be re-run). The new panel opens as soon as the server has it.
 */
export function followUpControls(panelId, status) {
  // One key per view: a double click or a retry after a lost answer starts one panel, not two.
  // One key per question: a retry of the same question is the same request,
  // an edited question is a new one.
  let followKey = randomId();
  let keyedText = null;
  const rerunKey = randomId();
  const msg = h('p', { class: 'follow-up-msg', id: 'follow-up-msg', role: 'status' });
  const err = fieldError('follow-up-err');
  const query = h('textarea', { id: 'follow-up-query', name: 'query', rows: 3, maxlength: 5000, required: true, 'aria-describedby': 'follow-up-help follow-up-err' });
  const count = h('span', { class: 'count', 'aria-hidden': 'true', text: '0 / 5000' });
  query.addEventListener('input', () => setText(count, `${query.value.length} / 5000`));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'follow-up-submit', text: 'Start the follow-up panel' });
  const toggle = h('button', { type: 'button', class: 'btn', id: 'follow-up-toggle', 'aria-expanded': 'false', 'aria-controls': 'follow-up-form', text: 'Ask a follow-up' });
  const form = h(
    'form',
    { class: 'follow-up-form', id: 'follow-up-form', novalidate: true, hidden: true },
    h('label', { for: 'follow-up-query', text: 'Follow-up question' }),
    h('p', { class: 'help', id: 'follow-up-help' }, 'A new panel of the same experts answers it, given this panel’s question, recommendation, agreement and dissent. 10 to 5000 characters. ', count),
    query,
    err,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'btn btn-quiet', text: 'Cancel', onclick: () => show(false) })),
  );
  function show(on) {
    form.hidden = !on;
    toggle.setAttribute('aria-expanded', String(on));
    if (on) query.focus();
    else toggle.focus();
  }
  toggle.addEventListener('click', () => show(form.hidden));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = query.value.trim();
    if (text.length < 10 || text.length > 5000) {
      showFieldError(err, query, text ? 'The question must be 10 to 5000 characters long.' : 'Write the follow-up question first.');
      query.focus();
      return;
    }
    showFieldError(err, query, null);
    if (keyedText !== null && keyedText !== text) followKey = randomId();
    keyedText = text;
    submit.disabled = true;
    msg.textContent = 'Starting the follow-up panel…';
    try {
      const panel = await api('POST', `/v1/panels/${panelId}/follow-up`, { query: text }, { headers: { 'Idempotency-Key': followKey } });
      announcer.say('The follow-up panel started.');
      location.hash = `#/panels/${panel.id}`;
    } catch (ex) {
      msg.textContent = '';
      showFieldError(err, query, ex.fields && ex.fields.query ? ex.fields.query : `Not started: ${ex.message}`);
      submit.disabled = false;
      query.focus();
    }
  });
  const rerun = h('button', {
    type: 'button',
    class: 'btn',
    id: 'rerun',
    text: 'Re-run',
    onclick: async () => {
      rerun.disabled = true;
      msg.textContent = 'Starting the re-run…';
      try {
        const panel = await api('POST', `/v1/panels/${panelId}/rerun`, {}, { headers: { 'Idempotency-Key': rerunKey } });
        announcer.say('The re-run started.');
        location.hash = `#/panels/${panel.id}`;
      } catch (ex) {
        msg.textContent = `Not re-run: ${ex.message}`;
        rerun.disabled = false;
      }
    },
  });
  return h(
    'div',
    { class: 'follow-up', id: 'follow-up', role: 'group', 'aria-label': 'Continue this panel' },
    h('div', { class: 'report-actions' }, status === 'completed' ? toggle : null, rerun),
    status === 'completed' ? form : null,
    msg,
  );
}
