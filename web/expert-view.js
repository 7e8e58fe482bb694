// One expert's page (#/experts/{id}): who they are (persona, background,
// what they weigh, what they are sceptical of, tags), and for admins the
// organisation's settings (hide, prefer); the organisation's own experts are
// also changed and deleted here. Deleting one that panels seated archives it
// instead (200 with archived: true): the page says so. docs/experts.md.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { domainLabel } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { carryMessage, domainsOf, expertBadges, expertFields, scopeTag, settingButtons } from './expert-parts.js';
import { mountView, notFoundView } from './view.js';

const NOT_FOUND = ['Expert not found', 'There is no expert with this address in your organisation’s catalog.'];

export function expertView(id) {
  const admin = session.isAdmin();
  const path = `/v1/experts/${encodeURIComponent(id)}`;
  let destroyed = false;
  let expert = null;
  let domains = [];

  const title = h('h1', { id: 'expert-h', text: 'Expert' });
  const sub = h('p', { class: 'expert-sub', id: 'expert-sub' });
  const archivedNote = h('p', { class: 'notice expert-archived', id: 'expert-archived', role: 'status', hidden: true });
  const profile = h('div', { class: 'expert-profile', id: 'expert-profile' });
  const msg = h('p', { class: 'list-msg', id: 'expert-msg', role: 'status', text: 'Loading the expert…' });
  // Admins: the message sits with the settings once they are drawn.
  const settingsSlot = h('div', { id: 'expert-settings-slot' }, msg);
  const manageSlot = h('div', { id: 'expert-manage-slot' });

  const say = (text, problem = false) => {
    msg.textContent = text;
    msg.classList.toggle('log-msg-error', problem);
  };

  function show(e) {
    expert = e;
    setText(title, e.name);
    const brand = session.tenant && session.tenant.branding && session.tenant.branding.display_name;
    document.title = `${e.name} · ${brand || 'askpanel'}`;
    clear(sub);
    appendAll(sub, h('span', { text: [e.title, domainLabel(e.domain)].filter(Boolean).join(' · ') }), ' ', scopeTag(e.scope), ' ', h('span', { class: 'expert-badges' }, expertBadges(e)));
    archivedNote.hidden = !e.archived;
    setText(archivedNote, e.archived ? 'Archived: kept for the record of the panels that seated this expert, never seated again, and no longer listed.' : '');
    renderProfile(e);
  }

  function renderProfile(e) {
    const part = (key, heading, ...content) => h('section', { class: 'expert-part', dataset: { part: key }, 'aria-labelledby': `expert-${key}-h` }, h('h2', { id: `expert-${key}-h`, text: heading }), ...content);
    const listOf = (items, empty) => (items && items.length ? h('ul', { class: 'expert-points' }, items.map((x) => h('li', { text: x }))) : h('p', { class: 'help', text: empty }));
    clear(profile);
    appendAll(
      profile,
      part('persona', 'Persona', h('p', { class: 'expert-text', text: e.persona || '–' })),
      part('background', 'Background', h('p', { class: 'expert-text', text: e.background || 'Not given.' })),
      part('weighs', 'What they weigh most', listOf(e.weighs, 'Not given.')),
      part('sceptical_of', 'What they are sceptical of', listOf(e.sceptical_of, 'Not given.')),
      part('tags', 'Search tags', e.tags && e.tags.length ? h('p', { class: 'expert-tags' }, e.tags.map((t) => h('span', { class: 'tag', text: t }))) : h('p', { class: 'help', text: 'None.' })),
      e.model ? part('model', 'Model', h('p', { text: e.model })) : null,
    );
  }

  /** Hide and prefer (admins): any expert but an archived one. */
  function settingsSection() {
    const buttons = settingButtons(expert, {
      idPrefix: 'expert',
      onChanged: (e, said) => {
        show(e);
        say(said);
        announcer.say(said);
      },
      onError: (text) => say(text, true),
    });
    return h(
      'section',
      { class: 'people-section', 'aria-labelledby': 'expert-settings-h' },
      h('h2', { id: 'expert-settings-h', text: 'For your organisation' }),
      h('p', { class: 'help', id: 'expert-settings-help', text: 'A hidden expert is never seated on a new panel, nor preferred: hiding drops a preference, and it is preferred again only once shown. A preferred one’s relevance to a question counts 1.5 times when experts are chosen.' }),
      h('div', { class: 'mod-buttons' }, buttons.el),
      msg,
    );
  }

  /** Change and delete: the organisation's own experts, until archived. */
  function manageSection() {
    const fields = expertFields('edit-expert', expert, domains);
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'edit-expert-submit', text: 'Save the changes' });
    const formMsg = h('p', { class: 'list-msg', id: 'edit-expert-msg', role: 'status' });
    const form = h('form', { class: 'expert-form', id: 'edit-expert-form', novalidate: true, 'aria-label': 'Change the expert' }, fields.el, h('div', { class: 'actions' }, submit), formMsg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = fields.body(expert);
      if (!body) {
        formMsg.textContent = 'Not saved: fill in what is marked.';
        return;
      }
      if (!Object.keys(body).length) {
        formMsg.textContent = 'Nothing changed, so nothing was saved.';
        return;
      }
      submit.disabled = true;
      formMsg.textContent = 'Saving…';
      try {
        const e = await api('PATCH', path, body);
        if (destroyed) return;
        show(e);
        fields.fill(e); // as the server keeps them (a domain in lower case, with underscores)
        formMsg.textContent = 'Saved.';
        announcer.say(`${e.name} was saved.`);
      } catch (e) {
        const rest = e.status === 422 ? fields.refuse(e) : '';
        formMsg.textContent = `Not saved: ${rest || (e.status === 422 ? 'see the marked fields.' : e.message)}`;
      } finally {
        submit.disabled = false;
      }
    });

    const remove = h('button', { type: 'button', class: 'btn btn-danger', id: 'expert-delete', text: 'Delete' });
    const confirmSlot = h('div', { id: 'expert-confirm-slot' });
    remove.addEventListener('click', () => {
      const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', id: 'expert-delete-yes', text: `Yes, delete ${expert.name}` });
      const no = h('button', { type: 'button', class: 'btn btn-small', id: 'expert-delete-no', text: 'Keep' });
      const status = h('p', { role: 'status' });
      clear(confirmSlot).append(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' }, h('p', { text: `Delete ${expert.name}? If a panel seated them they are archived instead: kept for that panel’s record, never seated again.` }), yes, no, status));
      yes.focus();
      no.addEventListener('click', () => {
        clear(confirmSlot);
        remove.focus();
      });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        status.textContent = 'Deleting…';
        const name = expert.name;
        try {
          const answer = await api('DELETE', path);
          if (destroyed) return;
          if (answer && answer.archived) {
            // Panels seated them: archived, not deleted.
            show(answer);
            clear(manageSlot);
            clear(settingsSlot).append(settingsSection());
            const said = `${name} was archived, not deleted: panels seated them, so they are kept for those panels’ record. They will not be seated again and are no longer listed.`;
            say(said);
            archivedNote.textContent = said;
            archivedNote.focus();
            announcer.say(said);
            return;
          }
          carryMessage(`${name} was deleted.`);
          announcer.say(`${name} was deleted.`);
          location.hash = '#/experts';
        } catch (ex) {
          status.textContent = `Not deleted: ${ex.message}`;
          yes.disabled = false;
          no.disabled = false;
        }
      });
    });

    return [
      h('details', { class: 'people-section', id: 'expert-edit' }, h('summary', { text: 'Change this expert' }), form),
      h('section', { class: 'people-section', 'aria-label': 'Delete the expert' }, h('div', { class: 'mod-buttons' }, remove), confirmSlot),
    ];
  }

  function renderAdmin() {
    if (!admin) return;
    clear(settingsSlot).append(settingsSection());
    clear(manageSlot);
    if (expert.scope === 'tenant' && !expert.archived) appendAll(manageSlot, manageSection());
    else if (expert.scope === 'platform') manageSlot.append(h('p', { class: 'help', id: 'expert-platform-note', text: 'A platform expert is not changed or deleted: hide it, or add your own expert on the Experts screen.' }));
  }

  archivedNote.setAttribute('tabindex', '-1');
  mountView(
    'Expert',
    h(
      'section',
      { class: 'expert-view' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/experts', text: '← Experts' })),
      h('div', { class: 'view-head' }, title),
      sub,
      archivedNote,
      admin ? settingsSlot : msg,
      profile,
      manageSlot,
    ),
  );

  Promise.all([api('GET', path), admin ? api('GET', '/v1/experts?limit=200&include_hidden=true').catch(() => null) : null])
    .then(([e, all]) => {
      if (destroyed) return;
      domains = domainsOf((all && all.items) || []);
      show(e);
      say('');
      renderAdmin();
    })
    .catch((ex) => {
      if (destroyed) return;
      if (ex.status === 404) notFoundView(...NOT_FOUND);
      else say(`Could not load the expert: ${ex.message}`, true);
    });

  return {
    destroy() {
      destroyed = true;
    },
  };
}
