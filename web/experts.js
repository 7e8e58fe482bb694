// The Experts screen (#/experts): the catalog panels are chosen from, the
// platform's experts and the organisation's own (docs/experts.md). Anyone
// signed in browses it: words (q, ranked by the server), a domain, and
// "show hidden and archived" (include_hidden), kept in the address. Admins
// also hide or prefer any expert from its row and add a private one. Each
// expert's own page (expert-view.js) shows all of it.

import { announcer, appendAll, clear, h } from './dom.js';
import { domainLabel } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { domainsOf, expertBadges, expertFields, scopeTag, settingButtons, takeCarriedMessage } from './expert-parts.js';
import { freshLoads } from './fresh.js';
import { mountView } from './view.js';

/** The server lists at most this many at once (GET /v1/experts?limit, 1 to 200). */
const LIMIT = 200;

/** The filters in the address's query. */
function readFilters(params) {
  return {
    q: (params.get('q') || '').trim().slice(0, 500),
    domain: (params.get('domain') || '').trim().slice(0, 60),
    include_hidden: params.get('include_hidden') === 'true',
  };
}

export function expertsView(params) {
  const admin = session.isAdmin();
  const filters = readFilters(params);
  let destroyed = false;
  let seq = 0;
  let domains = [];

  const carried = takeCarriedMessage();
  const notice = h('p', { class: 'notice', id: 'experts-notice', role: 'status', hidden: !carried, text: carried });
  const q = h('input', { type: 'search', id: 'experts-q', name: 'q', value: filters.q, autocomplete: 'off', maxlength: 500, 'aria-describedby': 'experts-q-help' });
  const domain = h('select', { id: 'experts-domain', name: 'domain' }, h('option', { value: '', text: 'Every domain' }), filters.domain ? h('option', { value: filters.domain, text: domainLabel(filters.domain), selected: true }) : null);
  const all = h('input', { type: 'checkbox', id: 'experts-all', name: 'include_hidden', checked: filters.include_hidden });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'experts-search', text: 'Search' });
  const form = h(
    'form',
    { class: 'search-form experts-filters', role: 'search', 'aria-label': 'Experts', novalidate: true },
    h('div', { class: 'search-row' }, h('label', { for: 'experts-q', text: 'Search the experts' }), h('div', { class: 'inline-row' }, q, submit)),
    h('p', { class: 'help', id: 'experts-q-help', text: 'Words of a question or a topic, for example “reimbursement” or “battery recall”: the best matches come first.' }),
    h('div', { class: 'experts-filter-row' }, h('div', { class: 'field-inline' }, h('label', { for: 'experts-domain', text: 'Domain' }), domain), h('div', { class: 'choice experts-all' }, all, h('label', { for: 'experts-all', text: 'Show hidden and archived' }))),
  );
  const msg = h('p', { class: 'list-msg', id: 'experts-msg', role: 'status', text: 'Loading the experts…' });
  const list = h('ul', { class: 'expert-list', id: 'experts', 'aria-labelledby': 'experts-list-h' });
  const listHead = h('h2', { id: 'experts-list-h', class: 'visually-hidden', tabindex: '-1', text: 'Experts found' });

  function current() {
    return { q: q.value.trim(), domain: domain.value, include_hidden: all.checked };
  }

  function say(text) {
    msg.textContent = text;
  }

  function row(ex) {
    const badges = h('span', { class: 'expert-badges' }, expertBadges(ex));
    const li = h(
      'li',
      { class: 'expert-row', dataset: { id: ex.id, scope: ex.scope, hidden: String(Boolean(ex.hidden)), preferred: String(Boolean(ex.preferred)), archived: String(Boolean(ex.archived)) } },
      h('p', { class: 'expert-row-name' }, h('a', { class: 'expert-link', href: `#/experts/${encodeURIComponent(ex.id)}`, text: ex.name }), ' ', badges),
      h('p', { class: 'expert-row-sub' }, h('span', { text: [ex.title, domainLabel(ex.domain)].filter(Boolean).join(' · ') }), ' ', scopeTag(ex.scope)),
    );
    if (!admin) return li;
    const buttons = settingButtons(ex, {
      onChanged: (e, said) => {
        li.dataset.hidden = String(Boolean(e.hidden));
        li.dataset.preferred = String(Boolean(e.preferred));
        clear(badges);
        appendAll(badges, expertBadges(e));
        say(said);
        announcer.say(said);
        // Hidden experts leave the list unless it shows them.
        if (e.hidden && !all.checked) {
          const next = li.nextElementSibling || li.previousElementSibling;
          li.remove();
          if (next) next.querySelector('.expert-link').focus();
          else listHead.focus();
        }
      },
      onError: say,
      // A list read while the change was made is read again after it.
      track: (request) => loads.write(request),
    });
    li.append(h('div', { class: 'row-actions' }, buttons.el));
    return li;
  }

  // Loads never show a list read before a hide or preference made here was committed.
  const loads = freshLoads((fresh) => show(fresh));
  function load() {
    return loads.load();
  }

  async function show(fresh) {
    const mySeq = ++seq;
    const f = current();
    const query = new URLSearchParams({ limit: String(LIMIT) });
    if (f.q) query.set('q', f.q);
    if (f.domain) query.set('domain', f.domain);
    if (f.include_hidden) query.set('include_hidden', 'true');
    say('Loading the experts…');
    try {
      const data = await api('GET', `/v1/experts?${query}`);
      if (destroyed || mySeq !== seq || !fresh()) return; // an older search answered late, or read around a change
      const items = (data && data.items) || [];
      clear(list);
      appendAll(list, items.map(row));
      const n = items.length;
      const set = items.filter((e) => e.hidden || e.archived).length;
      let text = n ? `${n} expert${n === 1 ? '' : 's'}${f.q ? ', best matches first' : ''}` : f.q || f.domain ? 'No expert matches.' : 'No experts.';
      if (n && f.include_hidden) text += `, ${set} of them hidden or archived`;
      if (n) text += n >= LIMIT ? `: the first ${LIMIT} are shown; search or choose a domain to narrow them.` : '.';
      say(text);
    } catch (e) {
      if (destroyed || mySeq !== seq) return;
      say(`Could not load the experts: ${Object.keys(e.fields).length ? Object.entries(e.fields).map(([k, v]) => `${k} ${v}`).join('; ') : e.message}`);
    }
  }

  /** The filters go in the address without a new route (the list stays, and the keyboard with it). */
  function apply() {
    const query = new URLSearchParams();
    const f = current();
    if (f.q) query.set('q', f.q);
    if (f.domain) query.set('domain', f.domain);
    if (f.include_hidden) query.set('include_hidden', 'true');
    history.replaceState(null, '', `${location.pathname}${location.search}#/experts${query.toString() ? `?${query}` : ''}`);
    notice.hidden = true;
    load();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  domain.addEventListener('change', apply);
  all.addEventListener('change', apply);

  /** Every domain, for the filter and the form's suggestions (hidden and archived experts' too). */
  async function loadDomains() {
    try {
      const data = await api('GET', `/v1/experts?limit=${LIMIT}&include_hidden=true`);
      if (destroyed) return;
      domains = domainsOf((data && data.items) || []);
      const chosen = domain.value;
      while (domain.options.length > 1) domain.remove(1);
      const options = domains.map((d) => ({ d, label: domainLabel(d) })).sort((a, b) => a.label.localeCompare(b.label));
      for (const { d, label } of options) domain.append(h('option', { value: d, text: label, selected: d === chosen }));
      // A domain from the address that no expert has: kept, so the list says nothing matches.
      if (chosen && !domains.includes(chosen)) domain.append(h('option', { value: chosen, text: domainLabel(chosen), selected: true }));
      if (addForm) addForm.suggest(domains);
    } catch {
      // The filter then offers only what the address chose; the list still loads.
    }
  }

  let addForm = null;
  if (admin) addForm = addSection({ onAdded: () => load() });

  mountView(
    'Experts',
    h(
      'section',
      { class: 'experts-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'experts-h', text: 'Experts' })),
      h('p', { class: 'help', text: admin ? 'The experts your panels are chosen from: the platform’s and your organisation’s own. Hide one to keep it off new panels; prefer one to have its relevance to a question count 1.5 times.' : 'The experts your panels are chosen from: the platform’s and your organisation’s own. Admins choose which are hidden or preferred.' }),
      notice,
      addForm ? addForm.el : null,
      form,
      h('div', { class: 'list-tools' }, msg, h('button', { type: 'button', class: 'btn btn-quiet', id: 'experts-refresh', text: 'Refresh', onclick: () => load() })),
      listHead,
      list,
    ),
  );
  loadDomains();
  load();
  return {
    destroy() {
      destroyed = true;
    },
  };
}

/** Add a private expert (admins): a closed disclosure above the list. `onAdded(expert)` after the server made it. */
function addSection({ onAdded }) {
  const fields = expertFields('new-expert');
  const slot = h('div', {}, fields.el);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'new-expert-submit', text: 'Add the expert' });
  const formMsg = h('p', { class: 'list-msg', id: 'new-expert-msg', role: 'status' });
  const made = h('div', { id: 'new-expert-made' });
  const form = h('form', { class: 'expert-form', id: 'new-expert-form', novalidate: true, 'aria-label': 'Add a private expert' }, h('p', { class: 'help', text: 'Seen and seated by your organisation only. Name, domain and persona are needed.' }), slot, h('div', { class: 'actions' }, submit), formMsg);
  const el = h('details', { class: 'people-section expert-add', id: 'new-expert' }, h('summary', { id: 'new-expert-summary', text: 'Add a private expert' }), made, form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = fields.body();
    if (!body) {
      formMsg.textContent = 'Not added: fill in what is marked.';
      return;
    }
    submit.disabled = true;
    formMsg.textContent = 'Adding the expert…';
    try {
      const ex = await api('POST', '/v1/experts', body);
      formMsg.textContent = '';
      fields.reset();
      clear(made).append(h('p', { class: 'notice', role: 'status' }, `${ex.name} was added. `, h('a', { href: `#/experts/${encodeURIComponent(ex.id)}`, id: 'new-expert-link', text: `Open ${ex.name}’s page` })));
      made.querySelector('a').focus();
      announcer.say(`${ex.name} was added.`);
      onAdded(ex);
    } catch (e) {
      const rest = e.status === 422 ? fields.refuse(e) : '';
      formMsg.textContent = `Not added: ${rest || (e.status === 422 ? 'see the marked fields.' : e.message)}`;
    } finally {
      submit.disabled = false;
    }
  });
  return {
    el,
    /** The domains known so far, offered as the domain field's suggestions. */
    suggest(domains) {
      const list = form.querySelector('datalist');
      if (!list) return;
      clear(list);
      appendAll(list, domains.map((d) => h('option', { value: d })));
    },
  };
}
